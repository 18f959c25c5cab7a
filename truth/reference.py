"""What each panel must show, computed from the replicas' own event logs.

An independent implementation of the semantics docs/ENGINES.md states, from the requests, gauge
readings and scrapes each replica logged (exporter.py, tgi-exporter), without any of inferscope's
code or output:

- counters as Prometheus reads them: a baseline at the first good scrape and after a gap of more
  than five scrape intervals; a value that went down was reset (all of it is new); a series new on
  the page counts whole; a series missing from the previous page starts from a new baseline;
- a rate is the increments reported in (t - window, t] over the seconds those increments span (per
  scrape: the time since the replica's previous good scrape), summed over replicas;
- percentiles from bucket counts merged across replicas and the window, on the union of bounds
  with linear interpolation, "above X" with X the largest bound the data supports;
- means from totals over counts; gauges as the last reading in (t - lookback, t].

Series are the reference's own: (signal, detail) per replica, fed by named children as each
engine's source declares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RATE_WINDOW_SCRAPES = 5

# What each engine's outcome means on the volume panel (docs/ENGINES.md).
VLLM_FINISHED = {"stop": "200", "length": "200", "repetition": "200", "error": "500", "abort": "503"}
TGI_FAILURE = {"validation": "422", "template": "422", "overloaded": "429", "generation": "424",
               "incomplete": "500", "dropped": "499"}
TRITON_FAILURE = {"REJECTED": "503", "CANCELED": "499", "BACKEND": "500", "OTHER": "500"}
SGLANG_INFERENCE_ENDPOINTS = {"/generate", "/encode", "/classify", "/v1/chat/completions",
                              "/v1/completions", "/v1/embeddings", "/v1/rerank", "/v1/score",
                              "/v1/responses"}

from layouts import (FASTAPI_HIGHR, SGLANG_E2E, SGLANG_ITL, SGLANG_QUEUE, SGLANG_TOKENS,
                     SGLANG_TTFT, TGI_DURATION, TGI_INPUT, TGI_TOTAL, VLLM_ITL,
                     VLLM_REQUEST_LATENCY, VLLM_TOKENS, VLLM_TTFT, VLLM_V063_E2E, VLLM_V063_TPOT)

# The LLM counters each engine's page has (plan key -> signal), docs/ENGINES.md "LLM engine
# signals". SGLang's prompt tokens are also its prefix cache's lookups.
VLLM_LLM = {"prompt": "PromptTokensProcessed", "generated": "GenerationTokensProduced",
            "preemptions": "Preemptions"}
VLLM_V1_LLM = {"prefix_queries": "PrefixCacheQueries", "prefix_hits": "PrefixCacheHits",
               "spec_draft": "SpecDraftTokens", "spec_accepted": "SpecAcceptedTokens"}
SGLANG_LLM = {("prompt", "prompt"): "PromptTokensProcessed", ("prompt", "lookups"): "PrefixCacheQueries",
              ("generated", "generated"): "GenerationTokensProduced",
              ("cached_device", "cached_device"): "PrefixCacheHits",
              ("cached_host", "cached_host"): "PrefixCacheHits",
              ("preemptions", "preemptions"): "Preemptions"}


def bucket_of(bounds: list[float], value: float) -> int:
    """The index of the bucket holding value (le semantics); len(bounds) is +Inf."""
    for index, bound in enumerate(bounds):
        if value <= bound:
            return index
    return len(bounds)


# ---- One replica's page over time ----

@dataclass
class Child:
    """One exported series (a child of a family) as the reference models it."""
    kind: str  # "counter" or "histogram"
    signal: str
    detail: str | None
    bounds: tuple[float, ...] = ()
    value: float = 0.0  # counter: cumulative
    buckets: list[float] = field(default_factory=list)  # histogram: per-bucket (not cumulative)
    total: float = 0.0  # histogram: _sum
    scale: float = 1.0  # to the signal's unit (Triton's microseconds to seconds)


class Page:
    """The cumulative state one replica's /metrics page shows."""

    def __init__(self, engine: str, variant: str) -> None:
        self.engine = engine
        self.variant = variant
        self.children: dict[tuple, Child] = {}
        self.gauges: dict[tuple[str, str | None], float] = {}
        self.hidden: set[tuple] = set()
        self.plans: dict[int, dict[str, Any]] = {}
        self.restart()

    # -- declarations at start (what each engine creates before any request) --

    def counter(self, key: tuple, signal: str, detail: str | None) -> Child:
        if key not in self.children:
            self.children[key] = Child("counter", signal, detail)
        return self.children[key]

    def histogram(self, key: tuple, signal: str, bounds: list[float]) -> Child:
        if key not in self.children:
            self.children[key] = Child("histogram", signal, None, tuple(bounds),
                                       buckets=[0.0] * (len(bounds) + 1))
        return self.children[key]

    def restart(self) -> None:
        """A new process: everything it exports starts again from zero."""
        self.children = {}
        engine = self.engine
        if engine == "vllm":
            for reason in ("stop", "length", "abort", "error", "repetition"):
                self.counter(("success", reason), "Requests", VLLM_FINISHED[reason])
                # The same series, read a second time: requests finished by reason.
                self.counter(("finished", reason), "FinishedRequests", reason)
            for key, signal in self.vllm_llm().items():
                self.counter(("llm", key), signal, None)
            for key, signal, bounds in self.vllm_histograms():
                self.histogram(key, signal, bounds)
            self.gauges = {("ConcurrentRequests", "in_progress"): 0.0,
                           ("ConcurrentRequests", "queued"): 0.0, ("KvCacheUsage", None): 0.0}
        elif engine == "sglang":
            for key, signal, bounds in self.sglang_histograms():
                self.histogram(key, signal, bounds)
            for (_, name), signal in SGLANG_LLM.items():
                self.counter(("llm", name), signal, None)
            self.gauges = {("ConcurrentRequests", "in_progress"): 0.0,
                           ("ConcurrentRequests", "queued"): 0.0, ("KvCacheUsage", None): 0.0}
        elif engine == "tgi":
            self.gauges = {("ConcurrentRequests", "in_progress"): 0.0,
                           ("ConcurrentRequests", "queued"): 0.0}
        elif engine == "triton":
            self.counter(("success",), "Requests", "200")
            for reason, status in TRITON_FAILURE.items():
                self.counter(("failure", reason), "Requests", status)
            for name, signal in (("request_us", "EndToEndSeconds"), ("compute_infer_us", "InferenceSeconds"),
                                 ("queue_us", "EngineQueueSeconds")):
                self.counter((name,), signal, "sum").scale = 1e-6
                self.counter(("success", signal), signal, "count")
            self.gauges = {("ConcurrentRequests", "queued"): 0.0, ("GpuUtilization", "GPU"): 0.0,
                           ("GpuMemoryUsedBytes", "GPU"): 0.0,
                           ("GpuMemoryTotalBytes", "GPU"): 16106127360.0}
        elif engine == "fastapi":
            self.histogram(("highr",), "EndToEndSeconds", FASTAPI_HIGHR)
            self.gauges = {}
        elif engine == "node":
            for cpu in ("0", "1"):
                for mode in ("irq", "nice", "softirq", "steal", "system", "user"):
                    self.counter(("cpu", cpu, mode), "CpuSeconds", None)
            self.gauges = {("mem_total",): 64.0 * 2**30, ("mem_available",): 40.0 * 2**30}
        elif engine == "container":
            self.counter(("cpu",), "CpuSeconds", None)
            self.gauges = {}

    def vllm_histograms(self):
        old = self.variant == "v063"
        e2e = VLLM_V063_E2E if old else VLLM_REQUEST_LATENCY
        out = [(("e2e",), "EndToEndSeconds", e2e),
               (("inference",), "InferenceSeconds", VLLM_REQUEST_LATENCY),
               (("ttft",), "TimeToFirstByteSeconds", VLLM_TTFT),
               (("queue",), "EngineQueueSeconds", VLLM_REQUEST_LATENCY),
               (("prompt_tokens",), "PromptTokens", VLLM_TOKENS),
               (("gen_tokens",), "GenerationTokens", VLLM_TOKENS),
               # ≤ 0.6.3's time_per_output_token and today's inter_token_latency: the same gaps.
               (("itl",), "InterTokenSeconds", VLLM_V063_TPOT if old else VLLM_ITL)]
        if not old:
            out += [(("prefill",), "PrefillSeconds", VLLM_REQUEST_LATENCY),
                    (("decode",), "DecodeSeconds", VLLM_REQUEST_LATENCY)]
        return out

    def vllm_llm(self) -> dict[str, str]:
        return VLLM_LLM if self.variant == "v063" else {**VLLM_LLM, **VLLM_V1_LLM}

    def sglang_histograms(self):
        return [(("e2e",), "EndToEndSeconds", SGLANG_E2E),
                (("ttft",), "TimeToFirstByteSeconds", SGLANG_TTFT),
                (("queue",), "EngineQueueSeconds", SGLANG_QUEUE),
                (("prompt_tokens",), "PromptTokens", SGLANG_TOKENS),
                (("gen_tokens",), "GenerationTokens", SGLANG_TOKENS),
                (("itl",), "InterTokenSeconds", SGLANG_ITL)]

    def observe(self, key: tuple, value: float, signal: str | None = None,
                bounds: list[float] | None = None) -> None:
        child = self.children.get(key)
        if child is None:
            child = self.histogram(key, signal, bounds)
        child.buckets[bucket_of(list(child.bounds), value)] += 1
        child.total += value

    # -- events --

    def request(self, plan: dict[str, Any]) -> None:
        self.plans[plan["id"]] = plan
        engine, outcome = self.engine, plan["outcome"]
        if engine == "vllm":
            if outcome in VLLM_FINISHED:
                self.children[("success", outcome)].value += 1
                self.children[("finished", outcome)].value += 1
                for name in ("e2e", "inference", "ttft", "queue", "prompt_tokens", "gen_tokens"):
                    self.observe((name,), plan[name])
                if self.variant != "v063":
                    for name in ("prefill", "decode"):
                        self.observe((name,), plan[name])
                for gap in plan["itl"]:
                    self.observe(("itl",), gap)
                for key in self.vllm_llm():
                    self.children[("llm", key)].value += plan[key]
            elif outcome == "admission":
                self.counter(("admission",), "Requests", "503").value += 1
        elif engine == "sglang":
            if outcome == "ok":
                for name in ("e2e", "ttft", "queue", "prompt_tokens", "gen_tokens"):
                    self.observe((name,), plan[name])
                for gap in plan["itl"]:
                    self.observe(("itl",), gap)
                for (field_name, name) in SGLANG_LLM:
                    self.children[("llm", name)].value += plan[field_name]
            endpoint = plan.get("endpoint", "/generate")
            # Responses of other endpoints (health checks) are on the page but feed nothing.
            signal = "Requests" if endpoint in SGLANG_INFERENCE_ENDPOINTS else None
            self.counter(("responses", endpoint, str(plan["http_status"])), signal,
                         str(plan["http_status"])).value += 1
        elif engine == "tgi":
            if outcome != "validation":
                self.observe(("input_length",), plan["prompt_tokens"], "PromptTokens", TGI_INPUT)
            if outcome == "success":
                self.counter(("success",), "Requests", "200").value += 1
                self.observe(("duration",), plan["e2e"], "EndToEndSeconds", TGI_DURATION)
                self.observe(("queue",), plan["queue"], "EngineQueueSeconds", TGI_DURATION)
                self.observe(("inference",), plan["inference"], "InferenceSeconds", TGI_DURATION)
                self.observe(("generated",), plan["gen_tokens"], "GenerationTokens", TGI_TOTAL)
                # Each request's mean time per token (inference time over generated tokens).
                self.observe(("mean_time_per_token",), plan["inference"] / max(plan["gen_tokens"], 1),
                             "InterTokenSeconds", TGI_DURATION)
            else:
                self.counter(("failure", outcome), "Requests", TGI_FAILURE[outcome]).value += 1
        elif engine == "triton":
            if outcome == "success":
                for signal in ("EndToEndSeconds", "InferenceSeconds", "EngineQueueSeconds"):
                    self.children[("success", signal)].value += 1
                self.children[("success",)].value += 1
                # Triton keeps whole microseconds.
                self.children[("request_us",)].value += round(plan["e2e"] * 1e6)
                self.children[("queue_us",)].value += round(plan["queue"] * 1e6)
                self.children[("compute_infer_us",)].value += round(plan["inference"] * 1e6)
            else:
                self.children[("failure", outcome)].value += 1

    def http(self, event: dict[str, Any]) -> None:
        """prometheus-fastapi-instrumentator recorded one request."""
        status = event["status"]
        handler = event["handler"]
        # Every request's body size (its Content-Length): a summary without quantiles, a mean.
        self.counter(("request_size_sum", handler), "RequestSizeBytes", "sum").value += event["size"]
        self.counter(("request_size_count", handler), "RequestSizeBytes", "count").value += 1
        if self.engine == "vllm":
            # Beside vLLM's engine only the 4xx class is read.
            if status == "4xx":
                self.counter(("http", handler, status), "Requests", status).value += 1
        elif self.engine == "fastapi":
            self.counter(("http", handler, status), "Requests", status).value += 1
            self.observe(("highr",), self.plans[event["id"]]["sleep"])
            # JSONResponse({"id": n}) writes compact JSON.
            response = len('{"id":%d}' % event["id"])
            self.counter(("response_size_sum", handler), "ResponseSizeBytes", "sum").value += response
            self.counter(("response_size_count", handler), "ResponseSizeBytes", "count").value += 1

    def set_gauges(self, values: dict[str, float]) -> None:
        names = {"running": ("ConcurrentRequests", "in_progress"),
                 "waiting": ("ConcurrentRequests", "queued"), "kv_cache": ("KvCacheUsage", None),
                 "gpu_util": ("GpuUtilization", "GPU"), "gpu_used": ("GpuMemoryUsedBytes", "GPU"),
                 "mem_total": ("mem_total",), "mem_available": ("mem_available",),
                 "working_set": ("MemoryWorkingSetBytes", None), "cpu_limit": ("CpuLimitCores", None),
                 "memory_limit": ("MemoryLimitBytes", None)}
        for name, value in values.items():
            self.gauges[names[name]] = float(value)

    def advance_cpu(self, seconds: dict[str, float]) -> None:
        for (kind, *rest), child in self.children.items():
            if kind == "cpu" and self.engine == "container":
                child.value += seconds["container"]
            elif kind == "cpu":
                child.value += seconds.get(rest[1], 0.0)

    def gauge_readings(self) -> dict[tuple[str, str | None], float]:
        readings = {key: value for key, value in self.gauges.items() if len(key) == 2}
        if self.engine == "node":
            readings[("MemoryWorkingSetBytes", None)] = (self.gauges[("mem_total",)]
                                                         - self.gauges[("mem_available",)])
        return readings


@dataclass
class Scrape:
    """One good scrape as the reference reads it."""
    t: float
    covered: float | None  # seconds since the previous good scrape; None: a new baseline
    counters: dict[tuple[str, str | None], float]  # (signal, detail) -> increment
    histograms: dict[str, list[tuple[tuple[float, ...], list[float]]]]  # signal -> [(bounds, per-bucket)]
    gauges: dict[tuple[str, str | None], float]


@dataclass
class Target:
    """One replica's scrapes: good ones with what they read, and failed ones (stale markers)."""
    good: list[Scrape]
    failed: list[float]


def replay(events: list[dict[str, Any]], engine: str, variant: str, interval_ms: float) -> Target:
    page = Page(engine, variant)
    previous: dict[tuple, tuple[str, Any]] | None = None  # child key -> (kind, cumulative)
    last_good: float | None = None
    good: list[Scrape] = []
    failed: list[float] = []
    max_gap = RATE_WINDOW_SCRAPES * interval_ms
    started = False
    seen_ever: set[tuple] = set()  # children ever on a page (a child back after missing is not new)
    for event in events:
        kind = event["ev"]
        if kind == "start":
            if started:
                page.restart()
            started = True
        elif kind == "req":
            page.request(event["plan"])
        elif kind == "http":
            page.http(event)
        elif kind == "gauge":
            page.set_gauges(event["values"])
        elif kind == "cpu":
            page.advance_cpu(event["seconds"])
        elif kind == "hide":
            page.hidden = {tuple(rule["key"]) for rule in event["rules"]}
        elif kind == "show":
            page.hidden = set()
        elif kind == "scrape" and not event["ok"]:
            failed.append(event["t"])
        elif kind == "scrape":
            t = event["t"]
            baseline = last_good is None or t - last_good > max_gap
            covered = None if baseline else (t - last_good) / 1000.0
            now: dict[tuple, tuple[str, Any]] = {}
            for key, child in page.children.items():
                if key in page.hidden or (key[0] == "finished" and ("success", key[1]) in page.hidden):
                    continue
                if child.kind == "counter":
                    now[key] = ("counter", child.value, child)
                else:
                    now[key] = ("histogram", (tuple(child.buckets), child.total), child)
            counters: dict[tuple[str, str | None], float] = {}
            histograms: dict[str, list] = {}
            if not baseline:
                for key, (child_kind, value, child) in now.items():
                    if child.signal is None:
                        continue
                    before = previous.get(key) if previous is not None else None
                    was_there = before is not None
                    if key in seen_ever and not was_there:
                        continue  # back after missing a page: a new baseline
                    if child_kind == "counter":
                        old = before[1] if was_there else 0.0
                        grown = (value - old if value >= old else value) * child.scale
                        counters[(child.signal, child.detail)] = counters.get(
                            (child.signal, child.detail), 0.0) + grown
                    else:
                        buckets, _ = value
                        old = before[1][0] if was_there else tuple(0.0 for _ in buckets)
                        old_cumulative = cumulative(old)
                        new_cumulative = cumulative(buckets)
                        reset = any(n < o for n, o in zip(new_cumulative, old_cumulative))
                        grown = list(buckets) if reset else [n - o for n, o in zip(buckets, old)]
                        histograms.setdefault(child.signal, []).append((child.bounds, grown))
            for key in now:
                seen_ever.add(key)
            previous = {key: (k, v) for key, (k, v, _) in now.items()}
            good.append(Scrape(t, covered, counters, merge_same_layouts(histograms),
                               page.gauge_readings()))
            last_good = t
    return Target(good, failed)


def cumulative(buckets) -> list[float]:
    out, total = [], 0.0
    for count in buckets:
        total += count
        out.append(total)
    return out


def merge_same_layouts(histograms: dict[str, list]) -> dict[str, list]:
    """Children of one signal on one page with the same layout add up (one observation)."""
    merged: dict[str, list] = {}
    for signal, parts in histograms.items():
        by_layout: dict[tuple, list[float]] = {}
        for bounds, grown in parts:
            if bounds in by_layout:
                by_layout[bounds] = [a + b for a, b in zip(by_layout[bounds], grown)]
            else:
                by_layout[bounds] = list(grown)
        merged[signal] = list(by_layout.items())
    return merged


# ---- Panels on the grid ----

@dataclass
class Grid:
    start: int
    end: int
    step: int
    window: int
    lookback: int

    def times(self) -> list[int]:
        return list(range(self.start, self.end + 1, self.step))


def in_window(t_point: int, t: float, width: int) -> bool:
    return t_point - width < t <= t_point


def timing_slack(target: Target, grid: Grid, interval_ms: float) -> list[float]:
    """Per point, how far the seconds this target's scrapes span in the window may be off,
    relative to them: inferscope times a scrape when it sends it (on a fixed phase of the
    interval), the replica when it serves it. A scrape served late shows as an offset from the
    target's usual phase, read from the log; the span's two ends (the scrape before the
    window's first, and its last) may each be off by their offset."""
    times = [s.t for s in target.good] + target.failed
    if not times:
        return [0.0] * len(grid.times())
    phases = sorted(t % interval_ms for t in times)
    phase = phases[len(phases) // 2]

    def late(t: float) -> float:
        return abs((t - phase + interval_ms / 2) % interval_ms - interval_ms / 2) / 1000.0

    out: list[float] = []
    for t in grid.times():
        scrapes = [s for s in target.good if s.covered is not None and in_window(t, s.t, grid.window)]
        cover = sum(s.covered for s in scrapes)
        if not scrapes or cover <= 0:
            out.append(0.0)
            continue
        start = scrapes[0].t - scrapes[0].covered * 1000.0
        out.append((late(start) + late(scrapes[-1].t)) / cover)
    return out


def rate_lines(targets: list[Target], grid: Grid) -> dict[str | None, list[float | None]]:
    """Rates per Requests detail, summed over targets."""
    return signal_rates(targets, grid, "Requests", lambda number, detail: detail)


def counter_rate(targets: list[Target], grid: Grid, signal: str) -> dict[int, list[float | None]]:
    """A counter signal's rate per target (CPU cores per replica)."""
    return signal_rates(targets, grid, signal, lambda number, detail: number)


def volume(targets: list[Target], grid: Grid) -> dict[Any, list[float | None]]:
    by_detail = rate_lines(targets, grid)
    n = len(grid.times())
    present = [any(line[i] is not None for line in by_detail.values()) for i in range(n)]
    out: dict[Any, list[float | None]] = {}
    for name, first in (("2xx", "2"), ("4xx", "4"), ("5xx", "5")):
        line: list[float | None] = []
        for i in range(n):
            if not present[i]:
                line.append(None)
                continue
            total = 0.0
            for detail, values in by_detail.items():
                if status_class(detail) == first and values[i] is not None:
                    total += values[i]
            line.append(total)
        out[name] = line
    for detail, values in by_detail.items():
        if detail is not None and detail.isdigit():
            out[("code", int(detail))] = values
    return out


def status_class(detail: str | None) -> str | None:
    if detail is None:
        return None
    if len(detail) == 3 and detail[1:] == "xx" and detail[0] in "12345":
        return detail[0]
    if detail.isdigit() and 100 <= int(detail) <= 599:
        return detail[0]
    return None


def histogram_quantile(q: float, layouts: list[tuple[tuple[float, ...], list[float]]]) -> tuple[float, bool] | None:
    """(value, above) of a q-quantile of histograms with possibly different layouts."""
    union = sorted({b for bounds, _ in layouts for b in bounds})
    cum = [0.0] * (len(union) + 1)
    for bounds, counts in layouts:
        own = cumulative(counts)
        for i, at in enumerate(union):
            cum[i] += cumulative_at(list(bounds), own, at)
        cum[-1] += own[-1] if own else 0.0
    total = cum[-1]
    if total <= 0:
        return None
    rank = q * total
    bucket = next((i for i, c in enumerate(cum) if c >= rank), len(union))
    if bucket == len(union):
        if not union:
            return None
        unplaced = [(bounds[-1], counts[-1]) for bounds, counts in layouts
                    if len(layouts) > 1 and bounds and counts[-1] > 0]
        if not unplaced:
            return (union[-1], True)
        supported = None
        for i, bound in enumerate(union):
            at_most = cum[i] + sum(c for top, c in unplaced if top < bound)
            if at_most < rank:
                supported = bound
        return (supported if supported is not None else union[-1], True)
    end = union[bucket]
    if bucket == 0:
        if end <= 0:
            return (end, False)
        start, below = 0.0, 0.0
    else:
        start, below = union[bucket - 1], cum[bucket - 1]
    inside = cum[bucket] - below
    if inside <= 0:
        return (end, False)
    return (start + (end - start) * (rank - below) / inside, False)


def cumulative_at(bounds: list[float], own: list[float], at: float) -> float:
    """A layout's cumulative count at `at`, linear inside the bucket that holds it; beyond its
    top bound only what lies below the top is known to lie below `at`."""
    index = next((i for i, b in enumerate(bounds) if not b < at), len(bounds))
    if index == len(bounds):
        return own[len(bounds) - 1] if bounds else 0.0
    end = bounds[index]
    if index == 0:
        start, below = min(0.0, end), 0.0
    else:
        start, below = bounds[index - 1], own[index - 1]
    if end <= start:
        return own[index]
    fraction = min(max((at - start) / (end - start), 0.0), 1.0)
    return below + (own[index] - below) * fraction


QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))


def percentile_lines(targets: list[Target], grid: Grid, signal: str):
    """{series: [(value, above) or None]} for a histogram signal; None if no target has it."""
    if not any(signal in s.histograms for t in targets for s in t.good):
        return None
    out = {name: [] for name, _ in QUANTILES}
    for t in grid.times():
        layouts: dict[tuple, list[float]] = {}
        for target in targets:
            for scrape in target.good:
                if not in_window(t, scrape.t, grid.window):
                    continue
                for bounds, grown in scrape.histograms.get(signal, []):
                    known = layouts.get(bounds)
                    layouts[bounds] = grown[:] if known is None else [a + b for a, b in zip(known, grown)]
        for name, q in QUANTILES:
            out[name].append(histogram_quantile(q, list(layouts.items())) if layouts else None)
    return out


def mean_line(targets: list[Target], grid: Grid, signal: str):
    if not any((signal, "count") in s.counters for t in targets for s in t.good):
        return None
    line = []
    for t in grid.times():
        total = count = None
        for target in targets:
            for scrape in target.good:
                if not in_window(t, scrape.t, grid.window):
                    continue
                if (signal, "sum") in scrape.counters:
                    total = (total or 0.0) + scrape.counters[(signal, "sum")]
                if (signal, "count") in scrape.counters:
                    count = (count or 0.0) + scrape.counters[(signal, "count")]
        if total is None or count is None or count <= 0:
            line.append(None)
        else:
            line.append((max(total, 0.0) / count, False))
    return {"mean": line}


def gauge_line(target: Target, grid: Grid, key) -> list[float | None]:
    points = sorted([(s.t, s.gauges.get(key)) for s in target.good] + [(f, None) for f in target.failed])
    line = []
    for t in grid.times():
        last = None
        for at, value in points:
            if at <= t:
                last = (at, value)
            else:
                break
        line.append(last[1] if last is not None and last[0] > t - grid.lookback else None)
    return line


def gauge_sum(targets: list[Target], grid: Grid, key, average: bool = False) -> list[float | None]:
    lines = [gauge_line(target, grid, key) for target in targets
             if any(key in s.gauges for s in target.good)]
    if not lines:
        return []
    out = []
    for values in zip(*lines):
        present = [v for v in values if v is not None]
        if not present:
            out.append(None)
        else:
            out.append(sum(present) / len(present) if average else sum(present))
    return out


def gauge_min(targets: list[Target], grid: Grid, key) -> list[float | None]:
    """A limit line: at each point the lowest value among the targets that report one there."""
    lines = [gauge_line(target, grid, key) for target in targets
             if any(key in s.gauges for s in target.good)]
    if not lines:
        return []
    return [min((v for v in values if v is not None), default=None) for values in zip(*lines)]


def member_average(lines: list[list[float | None]]) -> list[float | None]:
    """The mean, at each point, of the member lines present there."""
    out = []
    for values in zip(*lines):
        present = [v for v in values if v is not None]
        out.append(sum(present) / len(present) if present else None)
    return out


# ---- LLM panels ----

def signal_rates(targets: list[Target], grid: Grid, signal: str, group) -> dict[Any, list[float | None]]:
    """A counter signal's rate per group: each target's increments of each (signal, detail) in
    the window over the seconds the target's scrapes there span, summed over the group;
    group(target number, detail) names it (None: left out)."""
    out: dict[Any, list[float | None]] = {}
    times = grid.times()
    for number, target in enumerate(targets):
        details = {d for s in target.good for (sig, d) in s.counters if sig == signal}
        for detail in details:
            name = group(number, detail)
            if name is None:
                continue
            line = out.setdefault(name, [None] * len(times))
            for index, t in enumerate(times):
                scrapes = [s for s in target.good if in_window(t, s.t, grid.window)]
                covered = sum(s.covered for s in scrapes if s.covered is not None)
                points = [s.counters[(signal, detail)] for s in scrapes if (signal, detail) in s.counters]
                if points and covered > 0:
                    line[index] = (line[index] or 0.0) + max(sum(points), 0.0) / covered
    return out


def signal_sums(targets: list[Target], grid: Grid, signal: str, group) -> dict[Any, list[float | None]]:
    """A counter signal's increments in each window, summed per group (None: no increment
    reported there at all)."""
    out: dict[Any, list[float | None]] = {}
    times = grid.times()
    for number, target in enumerate(targets):
        name = group(number)
        if not any(sig == signal for s in target.good for (sig, _) in s.counters):
            continue
        line = out.setdefault(name, [None] * len(times))
        for index, t in enumerate(times):
            for scrape in target.good:
                if not in_window(t, scrape.t, grid.window):
                    continue
                for (sig, _), grown in scrape.counters.items():
                    if sig == signal:
                        line[index] = (line[index] or 0.0) + grown
    return out


def ratio_lines(targets: list[Target], grid: Grid, part: str, whole: str, group) -> dict[Any, list[float | None]]:
    """part's increments over whole's in each window, summed over the group before dividing
    (never an average of ratios); None where whole grew by nothing."""
    parts = signal_sums(targets, grid, part, group)
    wholes = signal_sums(targets, grid, whole, group)
    out = {}
    for name, line in wholes.items():
        mine = parts.get(name, [None] * len(line))
        out[name] = [None if w is None or w <= 0 else max(p or 0.0, 0.0) / w
                     for p, w in zip(mine, line)]
    return out
