"""A model-server replica's metrics, as the engine itself declares them, driven by planned requests.

One process is one replica. It serves the engine's families on GET /metrics with the library the
engine uses (prometheus_client, and prometheus-fastapi-instrumentator where the engine uses it),
applies each planned request the harness POSTs to its inference route, and appends every event
that changes what a scrape would read -- requests, gauge readings, scrapes, hidden series -- to a
JSON-lines log, in the order they happen (one event loop: a scrape sees exactly the requests
logged before it). The reference (reference.py) reads only that log.

Engines (families as declared in their source; versions in docs/ENGINES.md):
  vllm     vLLM v0.34.0 V1 families + the API server's instrumentator (vLLM's excluded handlers)
  sglang   SGLang 0.5.23 families (its own HTTP families; OpenMetrics when the scraper asks)
  triton   Triton 2.71 default families (cumulative microsecond counters), written as Triton's
           prometheus-cpp writes them (counters without `_total`)
  fastapi  a FastAPI model server with the instrumentator's defaults only
  node     node_exporter's host families beside the process's own process_*

This file knows nothing of inferscope.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_fastapi_instrumentator import Instrumentator, metrics

from layouts import (SGLANG_E2E, SGLANG_ITL, SGLANG_QUEUE, SGLANG_TOKENS, SGLANG_TTFT, VLLM_ITL,
                     VLLM_REQUEST_LATENCY, VLLM_TOKENS, VLLM_TTFT, VLLM_V063_E2E, VLLM_V063_TPOT)

SGLANG_INFERENCE_ENDPOINT = "/generate"


class Log:
    """Events, one JSON object a line, flushed at once (the reference reads them after the run)."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 -- lives as long as the process

    def write(self, event: str, **fields: Any) -> None:
        fields["ev"] = event
        fields["t"] = time.time() * 1000.0
        self.file.write(json.dumps(fields) + "\n")
        self.file.flush()


class Hideable:
    """Yields another registry's families, leaving out samples while they are hidden."""

    def __init__(self, inner: CollectorRegistry) -> None:
        self.inner = inner
        self.hidden: list[dict[str, str]] = []  # each: a sample name and labels that must all match

    def collect(self):
        for family in self.inner.collect():
            if self.hidden:
                family.samples = [s for s in family.samples if not self._hidden(s)]
            yield family

    def _hidden(self, sample) -> bool:
        for rule in self.hidden:
            if sample.name != rule["name"]:
                continue
            if all(sample.labels.get(k) == v for k, v in rule["labels"].items()):
                return True
        return False


class Replica:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.log = Log(args.log)
        self.inner = CollectorRegistry()
        self.hideable = Hideable(self.inner)
        self.outer = CollectorRegistry()
        self.outer.register(self.hideable)
        self.outage_until = 0.0
        self.hide_until = 0.0
        self.gauges: dict[str, Any] = {}
        if args.engine in ("vllm", "sglang", "fastapi", "node", "container"):
            ProcessCollector(registry=self.inner)
        getattr(self, f"declare_{args.engine}")()

    # ---- families, as each engine declares them ----

    def declare_vllm(self) -> None:
        labels = ["model_name", "engine"]
        self.base = {"model_name": self.args.model_name, "engine": "0"}
        r = self.inner
        self.success = Counter("vllm:request_success", "Count of successfully processed requests.",
                               labels + ["finished_reason"], registry=r)
        for reason in ("stop", "length", "abort", "error", "repetition"):
            self.success.labels(finished_reason=reason, **self.base)  # V1 pre-creates every child
        self.admission = Counter("vllm:admission_rejections", "Requests rejected at admission.",
                                 ["model_name", "reason"], registry=r)
        e2e = VLLM_V063_E2E if self.args.variant == "v063" else VLLM_REQUEST_LATENCY
        self.h = {
            "e2e": Histogram("vllm:e2e_request_latency_seconds",
                             "Histogram of e2e request latency in seconds.", labels, buckets=e2e,
                             registry=r),
            "inference": Histogram("vllm:request_inference_time_seconds",
                                   "Histogram of time spent in RUNNING phase for request.", labels,
                                   buckets=VLLM_REQUEST_LATENCY, registry=r),
            "ttft": Histogram("vllm:time_to_first_token_seconds",
                              "Histogram of time to first token in seconds.", labels,
                              buckets=VLLM_TTFT, registry=r),
            "queue": Histogram("vllm:request_queue_time_seconds",
                               "Histogram of time spent in WAITING phase for request.", labels,
                               buckets=VLLM_REQUEST_LATENCY, registry=r),
            "prompt_tokens": Histogram("vllm:request_prompt_tokens",
                                       "Number of prefill tokens processed.", labels,
                                       buckets=VLLM_TOKENS, registry=r),
            "gen_tokens": Histogram("vllm:request_generation_tokens",
                                    "Number of generation tokens processed.", labels,
                                    buckets=VLLM_TOKENS, registry=r),
        }
        # The LLM families. `v063` is a V0 engine (vLLM <= 0.6.3): the old names, no prefill or
        # decode histograms, no prefix-cache counters (only the averaged hit-rate gauge), no
        # speculative decoding.
        old = self.args.variant == "v063"
        if old:
            self.h["itl"] = Histogram("vllm:time_per_output_token_seconds",
                                      "Histogram of time per output token in seconds.", labels,
                                      buckets=VLLM_V063_TPOT, registry=r)
        else:
            self.h["itl"] = Histogram("vllm:inter_token_latency_seconds",
                                      "Histogram of inter-token latency in seconds.", labels,
                                      buckets=VLLM_ITL, registry=r)
            self.h["prefill"] = Histogram("vllm:request_prefill_time_seconds",
                                          "Histogram of time spent in PREFILL phase for request.",
                                          labels, buckets=VLLM_REQUEST_LATENCY, registry=r)
            self.h["decode"] = Histogram("vllm:request_decode_time_seconds",
                                         "Histogram of time spent in DECODE phase for request.",
                                         labels, buckets=VLLM_REQUEST_LATENCY, registry=r)
        for histogram in self.h.values():
            histogram.labels(**self.base)
        counters = {"prompt": ("vllm:prompt_tokens", "Number of prefill tokens processed."),
                    "generated": ("vllm:generation_tokens", "Number of generation tokens processed."),
                    "preemptions": ("vllm:num_preemptions", "Cumulative number of preemption from the engine.")}
        if not old:
            counters.update({
                "prefix_queries": ("vllm:prefix_cache_queries",
                                   "Prefix cache queries, in terms of number of queried tokens."),
                "prefix_hits": ("vllm:prefix_cache_hits",
                                "Prefix cache hits, in terms of number of cached tokens."),
                "spec_draft": ("vllm:spec_decode_num_draft_tokens", "Number of draft tokens."),
                "spec_accepted": ("vllm:spec_decode_num_accepted_tokens", "Number of accepted tokens."),
            })
        self.llm = {key: Counter(name, help_text, labels, registry=r).labels(**self.base)
                    for key, (name, help_text) in counters.items()}
        kv_name = "vllm:gpu_cache_usage_perc" if old else "vllm:kv_cache_usage_perc"
        self.g = {
            "running": Gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
                             labels, registry=r, multiprocess_mode="mostrecent").labels(**self.base),
            "waiting": Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
                             labels, registry=r, multiprocess_mode="mostrecent").labels(**self.base),
            "kv_cache": Gauge(kv_name, "KV-cache usage. 1 means 100 percent usage.",
                              labels, registry=r, multiprocess_mode="mostrecent").labels(**self.base),
        }
        if old:
            # V0's engine-averaged hit rate: on the page, never read (a lookalike).
            Gauge("vllm:gpu_prefix_cache_hit_rate", "GPU prefix cache block hit rate.", labels,
                  registry=r, multiprocess_mode="mostrecent").labels(**self.base).set(0.42)

    def declare_sglang(self) -> None:
        r = self.inner
        self.base = {"model_name": self.args.model_name}
        sched = {"model_name": self.args.model_name, "engine_type": "unified", "tp_rank": "0",
                 "pp_rank": "0", "moe_ep_rank": "0"}
        self.sched = sched
        self.responses = Counter("sglang:http_responses_total", "Number of HTTP responses by status code.",
                                 ["endpoint", "status_code", "method"], registry=r)
        self.num_requests = Counter("sglang:num_requests_total", "Number of requests processed.",
                                    ["model_name"], registry=r)
        self.aborted = Counter("sglang:num_aborted_requests_total", "Number of requests aborted.",
                               ["model_name"], registry=r)
        self.h = {
            "e2e": Histogram("sglang:e2e_request_latency_seconds",
                             "Histogram of End-to-end request latency in seconds", ["model_name"],
                             buckets=SGLANG_E2E, registry=r),
            "ttft": Histogram("sglang:time_to_first_token_seconds",
                              "Histogram of time to first token in seconds.", ["model_name"],
                              buckets=SGLANG_TTFT, registry=r),
            "queue": Histogram("sglang:queue_time_seconds", "Histogram of queueing time in seconds.",
                               list(sched), buckets=SGLANG_QUEUE, registry=r),
            "prompt_tokens": Histogram("sglang:prompt_tokens_histogram", "Histogram of prompt token length.",
                                       ["model_name"], buckets=SGLANG_TOKENS, registry=r),
            "gen_tokens": Histogram("sglang:generation_tokens_histogram",
                                    "Histogram of generation token length.", ["model_name"],
                                    buckets=SGLANG_TOKENS, registry=r),
        }
        self.h["itl"] = Histogram("sglang:inter_token_latency_seconds",
                                  "Histogram of inter-token latency in seconds.", ["model_name"],
                                  buckets=SGLANG_ITL, registry=r)
        for key, histogram in self.h.items():
            histogram.labels(**(sched if key == "queue" else self.base))
        self.num_requests.labels(**self.base)
        self.llm = {
            "prompt": Counter("sglang:prompt_tokens", "Number of prefill tokens processed.",
                              ["model_name"], registry=r).labels(**self.base),
            "generated": Counter("sglang:generation_tokens", "Number of generation tokens processed.",
                                 ["model_name"], registry=r).labels(**self.base),
            "preemptions": Counter("sglang:num_retracted_requests", "Number of retracted requests.",
                                   list(sched), registry=r).labels(**sched),
        }
        # Cached prompt tokens by where they were found: children summed into one hit count.
        cached = Counter("sglang:cached_tokens", "Number of cached prompt tokens.",
                         ["model_name", "cache_source"], registry=r)
        for source in ("device", "host"):
            self.llm[f"cached_{source}"] = cached.labels(cache_source=source, **self.base)
        self.g = {
            "running": Gauge("sglang:num_running_reqs", "The number of running requests.", list(sched),
                             registry=r, multiprocess_mode="mostrecent").labels(**sched),
            "waiting": Gauge("sglang:num_queue_reqs", "The number of requests in the waiting queue.",
                             list(sched), registry=r, multiprocess_mode="mostrecent").labels(**sched),
            "kv_cache": Gauge("sglang:token_usage", "The token usage.", list(sched), registry=r,
                              multiprocess_mode="mostrecent").labels(**sched),
        }

    def declare_fastapi(self) -> None:
        self.g = {}

    def declare_triton(self) -> None:
        # Triton's core keeps these itself; the page is rendered in render_triton().
        self.triton = {"success": 0, "failure": {r: 0 for r in ("REJECTED", "CANCELED", "BACKEND", "OTHER")},
                       "count": 0, "exec": 0, "request_us": 0, "queue_us": 0, "compute_infer_us": 0,
                       "compute_input_us": 0, "compute_output_us": 0}
        self.g = {"waiting": 0.0, "gpu_util": 0.0, "gpu_used": 0.0}

    def declare_node(self) -> None:
        self.cpu = {(cpu, mode): 0.0 for cpu in ("0", "1") for mode in
                    ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")}
        self.g = {"mem_total": 64 * 2**30, "mem_available": 40 * 2**30}
        replica = self

        class NodeCollector:
            def collect(self):
                cpu = CounterMetricFamily("node_cpu_seconds", "Seconds the CPUs spent in each mode.",
                                          labels=["cpu", "mode"])
                for (c, mode), value in sorted(replica.cpu.items()):
                    cpu.add_metric([c, mode], value)
                yield cpu
                yield GaugeMetricFamily("node_memory_MemTotal_bytes", "Memory information field MemTotal_bytes.",
                                        value=replica.g["mem_total"])
                yield GaugeMetricFamily("node_memory_MemAvailable_bytes",
                                        "Memory information field MemAvailable_bytes.",
                                        value=replica.g["mem_available"])

        self.inner.register(NodeCollector())

    def declare_container(self) -> None:
        """What a container-aware agent exports in inferscope's own names: the container's CPU
        time, working set and cgroup limits (docs/ENGINES.md). Beside them the page keeps
        prometheus_client's process_* of this Python process, and inferscope's host reader reads
        the process from /proc too: the panels must show the container's figures, not those.
        A gauge appears on the page only once it has been set."""
        self.g = {"cpu_used": 0.0}
        replica = self

        class ContainerCollector:
            def collect(self):
                yield CounterMetricFamily("inferscope_container_cpu_usage_seconds",
                                          "CPU time the container used.", value=replica.g["cpu_used"])
                for key, name, help_text in (
                        ("working_set", "inferscope_container_memory_working_set_bytes",
                         "The container's working set."),
                        ("cpu_limit", "inferscope_container_cpu_limit_cores", "cpu.max as cores."),
                        ("memory_limit", "inferscope_container_memory_limit_bytes", "memory.max.")):
                    if key in replica.g:
                        yield GaugeMetricFamily(name, help_text, value=replica.g[key])

        self.inner.register(ContainerCollector())

    # ---- requests ----

    def apply(self, plan: dict[str, Any]) -> int:
        """Applies one planned request to the metrics; returns the HTTP status to answer."""
        engine = self.args.engine
        self.log.write("req", plan=plan)
        outcome = plan["outcome"]
        if engine == "vllm":
            if outcome in ("stop", "length", "repetition", "error", "abort"):
                self.success.labels(finished_reason=outcome, **self.base).inc()
                for key in ("e2e", "inference", "ttft", "queue", "prompt_tokens", "gen_tokens"):
                    self.h[key].labels(**self.base).observe(plan[key])
                for key in ("prefill", "decode"):
                    if key in self.h:
                        self.h[key].labels(**self.base).observe(plan[key])
                for gap in plan["itl"]:
                    self.h["itl"].labels(**self.base).observe(gap)
                for key, counter in self.llm.items():
                    counter.inc(plan[key])
            elif outcome == "admission":
                self.admission.labels(model_name=self.args.model_name, reason="max_num_queued_reqs").inc()
            # "validation" and "disconnect" never reach the engine's counters.
            return plan["http_status"]
        if engine == "sglang":
            if outcome == "ok":
                self.num_requests.labels(**self.base).inc()
                for key in ("e2e", "ttft", "prompt_tokens", "gen_tokens"):
                    self.h[key].labels(**self.base).observe(plan[key])
                self.h["queue"].labels(**self.sched).observe(plan["queue"])
                for gap in plan["itl"]:
                    self.h["itl"].labels(**self.base).observe(gap)
                for key, counter in self.llm.items():
                    counter.inc(plan[key])
            if outcome == "aborted":
                self.aborted.labels(**self.base).inc()
            self.responses.labels(endpoint=plan.get("endpoint", SGLANG_INFERENCE_ENDPOINT),
                                  status_code=str(plan["http_status"]), method="POST").inc()
            return plan["http_status"]
        if engine == "triton":
            t = self.triton
            if outcome == "success":
                t["success"] += 1
                t["count"] += plan["batch"]
                t["exec"] += 1
                t["request_us"] += round(plan["e2e"] * 1e6)
                t["queue_us"] += round(plan["queue"] * 1e6)
                t["compute_infer_us"] += round(plan["inference"] * 1e6)
            else:
                t["failure"][outcome] += 1
            return plan["http_status"]
        return plan["http_status"]

    def set_gauges(self, values: dict[str, float]) -> None:
        self.log.write("gauge", values=values)
        engine = self.args.engine
        if engine in ("vllm", "sglang"):
            for key, value in values.items():
                self.g[key].set(value)
        elif engine in ("triton", "node", "container"):
            self.g.update(values)

    def advance_cpu(self, seconds: dict[str, float]) -> None:
        """node: the host's CPUs spent these seconds in these modes (both CPUs alike)."""
        self.log.write("cpu", seconds=seconds)
        if self.args.engine == "container":
            self.g["cpu_used"] += seconds["container"]
            return
        for (cpu, mode) in list(self.cpu):
            self.cpu[(cpu, mode)] += seconds.get(mode, 0.0)

    # ---- the page ----

    def render(self, accept: str) -> tuple[bytes, str]:
        if self.args.engine == "triton":
            return self.render_triton().encode(), "text/plain; version=0.0.4; charset=utf-8"
        if self.args.engine == "sglang":
            # SGLang mounts prometheus_client's ASGI app: the format follows the Accept header.
            encoder, content_type = choose_encoder(accept)
            return encoder(self.outer), content_type
        return generate_latest(self.outer), CONTENT_TYPE_LATEST

    def render_triton(self) -> str:
        t = self.triton
        model = 'model="densenet_onnx",version="1"'
        lines = []

        def family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                lines.append(f"{name}{{{labels}}} {value}" if labels else f"{name} {value}")

        family("nv_inference_request_success", "counter",
               "Number of successful inference requests, all batch sizes", [(model, t["success"])])
        family("nv_inference_request_failure", "counter",
               "Number of failed inference requests, all batch sizes",
               [(f'{model},reason="{r}"', v) for r, v in t["failure"].items()])
        family("nv_inference_count", "counter",
               "Number of inferences performed (does not include cached requests)", [(model, t["count"])])
        family("nv_inference_exec_count", "counter",
               "Number of model executions performed (does not include cached requests)", [(model, t["exec"])])
        family("nv_inference_request_duration_us", "counter",
               "Cumulative inference request duration in microseconds (includes cached requests)",
               [(model, t["request_us"])])
        family("nv_inference_queue_duration_us", "counter",
               "Cumulative inference queuing duration in microseconds (includes cached requests)",
               [(model, t["queue_us"])])
        family("nv_inference_compute_input_duration_us", "counter",
               "Cumulative compute input duration in microseconds (does not include cached requests)",
               [(model, t["compute_input_us"])])
        family("nv_inference_compute_infer_duration_us", "counter",
               "Cumulative compute inference duration in microseconds (does not include cached requests)",
               [(model, t["compute_infer_us"])])
        family("nv_inference_compute_output_duration_us", "counter",
               "Cumulative inference compute output duration in microseconds (does not include cached requests)",
               [(model, t["compute_output_us"])])
        family("nv_inference_pending_request_count", "gauge",
               "Instantaneous number of pending requests awaiting execution per-model.",
               [(model, self.g["waiting"])])
        gpu = 'gpu_uuid="GPU-2bd1a2a8-5f6b-4bd0-b2a8-0e2f7a3c9d10"'
        family("nv_gpu_utilization", "gauge", "GPU utilization rate [0.0 - 1.0)", [(gpu, self.g["gpu_util"])])
        family("nv_gpu_memory_total_bytes", "gauge", "GPU total memory, in bytes", [(gpu, 16106127360)])
        family("nv_gpu_memory_used_bytes", "gauge", "GPU used memory, in bytes", [(gpu, self.g["gpu_used"])])
        return "\n".join(lines) + "\n"


def build_app(replica: Replica) -> FastAPI:
    app = FastAPI()
    engine = replica.args.engine

    def logged(info: metrics.Info) -> None:
        # Runs right after the default instrumentation, with no await between: a scrape sees
        # the HTTP families change exactly when this event is logged.
        plan = getattr(info.request.state, "plan", None)
        replica.log.write("http", id=plan["id"] if plan else None, handler=info.modified_handler,
                          status=info.modified_status,
                          size=int(info.request.headers.get("content-length", 0)))

    excluded = {"vllm": ["/metrics", "/health", "/load", "/ping", "/version", "/server_info",
                         "/control"],
                "fastapi": ["/metrics", "/control", "/health"]}.get(engine)
    if excluded is not None:
        # vllm/entrypoints/serve/instrumentator/metrics.py @0.34.0: the defaults, vLLM's
        # excluded handlers.
        (Instrumentator(excluded_handlers=excluded, registry=replica.inner)
         .add(metrics.default(registry=replica.inner), logged)
         .instrument(app))

    @app.get("/metrics")
    async def serve_metrics(request: Request) -> Response:
        now = time.time()
        if now < replica.outage_until:
            replica.log.write("scrape", ok=False)
            return Response("unavailable", status_code=503)
        if replica.hide_until and now >= replica.hide_until:
            replica.hideable.hidden = []
            replica.hide_until = 0.0
            replica.log.write("show")
        body, content_type = replica.render(request.headers.get("accept", ""))
        replica.log.write("scrape", ok=True)
        return Response(body, media_type=content_type)

    @app.post("/control")
    async def control(request: Request) -> JSONResponse:
        order = await request.json()
        if "outage_s" in order:
            replica.outage_until = time.time() + order["outage_s"]
            replica.log.write("outage", seconds=order["outage_s"])
        if "hide" in order:
            replica.hideable.hidden = order["hide"]
            replica.hide_until = time.time() + order["for_s"]
            replica.log.write("hide", rules=order["hide"])
        if "gauges" in order:
            replica.set_gauges(order["gauges"])
        if "cpu" in order:
            replica.advance_cpu(order["cpu"])
        return JSONResponse({"ok": True})

    async def infer(request: Request) -> Response:
        plan = json.loads(await request.body())
        request.state.plan = plan
        status = replica.apply(plan)
        if engine == "fastapi" and plan.get("sleep"):
            await asyncio.sleep(plan["sleep"])
        return JSONResponse({"id": plan["id"]}, status_code=status)

    route = {"vllm": "/v1/completions", "sglang": "/generate", "fastapi": "/predict",
             "triton": "/v2/models/densenet_onnx/infer", "node": "/unused",
             "container": "/unused"}[engine]
    app.add_api_route(route, infer, methods=["POST"])

    @app.get("/health")
    async def health() -> JSONResponse:
        if engine == "sglang":
            replica.responses.labels(endpoint="/health", status_code="200", method="GET").inc()
            replica.log.write("health")
        return JSONResponse({"ok": True})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", required=True, choices=["vllm", "sglang", "triton", "fastapi", "node",
                                                              "container"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--model-name", default="model")
    parser.add_argument("--variant", default="")
    args = parser.parse_args()
    replica = Replica(args)
    replica.log.write("start", pid=os.getpid())
    uvicorn.run(build_app(replica), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
