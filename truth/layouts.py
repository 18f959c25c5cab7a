"""Bucket layouts as the engines declare them (versions in docs/ENGINES.md); the replicas export
with them and the reference buckets the planned values with them."""

VLLM_REQUEST_LATENCY = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0,
                        50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]
# vLLM <= 0.6.3 (and v0.4/0.5): the e2e latency layout before PR #9659.
VLLM_V063_E2E = [1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0]
VLLM_TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
             7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]


def one_two_five(maximum: int) -> list[float]:
    """vLLM's build_1_2_5_buckets(max_model_len)."""
    out, exponent = [], 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10 ** exponent
            if value > maximum:
                return [float(v) for v in out]
            out.append(float(value))
        exponent += 1


VLLM_TOKENS = one_two_five(131072)
SGLANG_E2E = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600,
              1200, 1800, 2400]
SGLANG_TTFT = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400]
SGLANG_QUEUE = [0.000, 0.001, 0.005, 0.010, 0.050, 0.100, 0.200, 0.500, 1, 2, 3, 4, 5, 10, 15,
                20, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 600, 700, 800, 900,
                1000, 1200, 1400, 1600, 1800, 2000, 2500, 3000]
SGLANG_TOKENS = [100, 300, 500, 700, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000,
                 10000, 12500, 15000, 17500, 20000, 22500, 25000, 27500, 30000, 35000, 40000,
                 60000, 80000, 100000, 200000, 300000, 400000, 600000, 800000, 1000000, 1100000]
# prometheus-fastapi-instrumentator v8.0.2 `metrics.default()` latency_highr_buckets.
FASTAPI_HIGHR = [0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5,
                 7.5, 10, 30, 60]


def tgi_duration() -> list[float]:
    """TGI v3.3.7 server.rs: 35 bounds, 0.0001 × 1.5^k."""
    out, value = [], 0.0001
    for _ in range(35):
        value *= 1.5
        out.append(value)
    return out


TGI_DURATION = tgi_duration()
# TGI's input-length and generated-token layouts for max_input_tokens 4095, max_total_tokens 4096.
TGI_INPUT = [(4095.0 / 100.0) * (x + 1) for x in range(100)]
TGI_TOTAL = [(4096.0 / 100.0) * (x + 1) for x in range(100)]
# vLLM v0.34.0 `vllm:inter_token_latency_seconds` (v1/metrics/loggers.py).
VLLM_ITL = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
            20.0, 40.0, 80.0]
# vLLM <= 0.6.3 `vllm:time_per_output_token_seconds` (engine/metrics.py), before it grew to 80 s.
VLLM_V063_TPOT = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5]
# SGLang 0.5.23 `sglang:inter_token_latency_seconds` (the default bucket_inter_token_latency).
SGLANG_ITL = [0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.025, 0.030, 0.035, 0.040, 0.060,
              0.080, 0.100, 0.200, 0.400, 0.600, 0.800, 1.0, 2.0, 4.0, 6.0, 8.0]
