"""The truth harness: real replicas, seeded traffic, inferscope scraping them, and every point of
/api/v1/view compared with an independent reference.

    python truth/run.py --inferscope target/debug/inferscope [--seconds 150] [--seed 7]

Starts one process per replica (exporter.py for vLLM, SGLang, Triton, FastAPI and node_exporter
pages; the Rust tgi-exporter for TGI), an inferscope configured to scrape them every second, and a
traffic driver that sends planned requests (outcome, latencies, tokens, sizes from a seeded RNG)
and gauge readings. During the run: a replica restarts (counters reset), scrapes fail for longer
than the rate window (an outage), a series leaves the page and comes back, one replica's p99 lands
in +Inf, label values carry quotes, backslashes and newlines, and replicas of one deployment use
different bucket layouts. Then it asks inferscope for each deployment's view and compares every
point of every panel with reference.py, which reads only the replicas' own event logs.

Prints, per engine and panel, the points checked, skipped (a scrape within 60 ms after a window
edge, or a gauge whose lookback meets a replica's restart) and wrong, and exits 1 when any point is
wrong. Loopback replicas are also read by inferscope's host reader: their CPU and memory panels
must have no gaps caused by it and must not count the process twice. Two "container" replicas
export a container's CPU, working set and limits in inferscope's own names (limits that change
during the run, one replica without a memory limit, one restart): their CPU and memory panels
must show those figures, not the process's, and the `limit` line the lowest reported limit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import quote
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import reference

HERE = Path(__file__).resolve().parent
INTERVAL_MS = 1000
# Rates are compared within this relative tolerance: inferscope times a scrape when it sends
# it, the replica when it answers, a few milliseconds apart, so the seconds a window spans differ
# that little. Percentiles, means and gauges are exact (to 1e-9).
RATE_TOLERANCE = 0.015
EDGE_MARGIN_MS = 60
# On a busy 2-core machine a replica sometimes serves a scrape 100 ms late or more, which moves
# a window's seconds by 2 % (more beside an outage, where a window holds a scrape or two). Each
# point's tolerance grows by its own timing slack, measured from the replicas' logs
# (reference.timing_slack): RATE_TOLERANCE where every scrape was served on its phase.


def fnv1a(text: str) -> int:
    value = 0xCBF29CE484222325
    for byte in text.encode():
        value ^= byte
        value = (value * 0x100000001B3) % 2**64
    return value


def free_port(taken: set[int]) -> int:
    """A free loopback port whose URL's scrapes land mid-second.

    The server spreads scrapes over the interval by a hash of the URL (FNV-1a, documented in
    ARCHITECTURE.md); picking ports whose offset is far from a second's edge keeps window edges
    unambiguous between the server's clock and the replica's.
    """
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        offset = fnv1a(f"http://127.0.0.1:{port}/metrics") % INTERVAL_MS
        if port not in taken and 200 <= offset <= 800:
            taken.add(port)
            return port


class Replica:
    def __init__(self, deployment: str, name: str, engine: str, port: int, logs: Path,
                 python: str, tgi: str, variant: str = "", model_name: str = "model") -> None:
        self.deployment, self.name, self.engine, self.port = deployment, name, engine, port
        self.variant, self.model_name = variant, model_name
        self.log = logs / f"{deployment}-{name}.log"
        self.python, self.tgi = python, tgi
        self.process: subprocess.Popen | None = None
        self.down: list[tuple[float, float]] = []  # (killed, back) in ms

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.engine == "tgi":
            command = [self.tgi, "--port", str(self.port), "--log", str(self.log)]
        else:
            command = [self.python, str(HERE / "exporter.py"), "--engine", self.engine, "--port",
                       str(self.port), "--log", str(self.log), "--model-name", self.model_name,
                       "--variant", self.variant]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        # Not /metrics: every scrape the replica answers is logged as one inferscope made.
        wait_for(f"{self.url}/health", 30)

    def restart(self) -> None:
        killed = time.time() * 1000
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.start()
        self.down.append((killed, time.time() * 1000))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def post(self, path: str, body: dict, timeout: float = 10.0) -> int:
        data = json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method="POST",
                                         headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return 0  # down (restarting): the request never reached it


def wait_for(url: str, seconds: float, ok_statuses=(200,)) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in ok_statuses:
                    return
        except urllib.error.HTTPError as error:
            if error.code in ok_statuses:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"truth: {url} did not answer within {seconds:.0f} s")


# ---- Plans: what each request does, from a seeded RNG ----

def choose(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def vllm_plan(rng: random.Random, replica: Replica, number: int) -> dict:
    outcome = choose(rng, {"stop": 60, "length": 18, "repetition": 3, "error": 5, "abort": 3,
                           "validation": 6, "admission": 3, "disconnect": 2})
    stream = rng.random() < 0.5
    status = {"stop": 200, "length": 200, "repetition": 200, "abort": 200, "disconnect": 200,
              "validation": 400, "admission": 503, "error": 200 if stream else 500}[outcome]
    queue = rng.expovariate(1 / 0.2)
    prefill = rng.uniform(0.01, 0.5)
    decode = rng.lognormvariate(0.5, 0.9)
    if replica.variant == "v063" and rng.random() < 0.04:
        decode = rng.uniform(65, 300)  # past this layout's top bound (60 s): +Inf
    prompt, generated = rng.randint(5, 6000), rng.randint(1, 2000)
    draft = rng.randint(0, 40)
    return {"id": number, "outcome": outcome, "http_status": status, "stream": stream,
            "queue": queue, "ttft": queue + prefill, "inference": prefill + decode,
            "e2e": queue + prefill + decode + rng.uniform(0.001, 0.05),
            "prompt_tokens": prompt, "gen_tokens": generated,
            "prefill": prefill, "decode": decode, "itl": gaps(rng, generated, -3.5, 0.8),
            "prompt": prompt, "generated": generated,
            "preemptions": choose_int(rng, {0: 88, 1: 9, 2: 3}),
            "prefix_queries": prompt, "prefix_hits": rng.randint(0, prompt) if rng.random() < 0.6 else 0,
            "spec_draft": draft, "spec_accepted": rng.randint(0, draft)}


def gaps(rng: random.Random, generated: int, mu: float, sigma: float) -> list[float]:
    """A few of a request's inter-token gaps (one per token after the first); now and then a
    stall of seconds (a preemption), past the oldest layouts' top bound."""
    count = min(generated - 1, rng.randint(1, 6))
    return [rng.uniform(3.0, 20.0) if rng.random() < 0.02 else rng.lognormvariate(mu, sigma)
            for _ in range(count)]


def choose_int(rng: random.Random, weights: dict[int, float]) -> int:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def sglang_plan(rng: random.Random, replica: Replica, number: int) -> dict:
    outcome = choose(rng, {"ok": 82, "aborted": 6, "validation": 6, "queue_full": 6})
    status = {"ok": 200, "aborted": 400, "validation": 400, "queue_full": 503}[outcome]
    queue = rng.expovariate(1 / 0.05)
    ttft = queue + rng.uniform(0.05, 1.5)
    prompt, generated = rng.randint(50, 30000), rng.randint(1, 4000)
    device = rng.randint(0, prompt // 2)
    return {"id": number, "outcome": outcome, "http_status": status, "queue": queue, "ttft": ttft,
            "e2e": ttft + rng.lognormvariate(1.0, 0.7), "prompt_tokens": prompt,
            "gen_tokens": generated, "itl": gaps(rng, generated, -4.0, 0.7),
            "prompt": prompt, "generated": generated, "cached_device": device,
            "cached_host": rng.randint(0, (prompt - device) // 3),
            "preemptions": choose_int(rng, {0: 95, 1: 5})}


def tgi_plan(rng: random.Random, replica: Replica, number: int) -> dict:
    outcome = choose(rng, {"success": 78, "validation": 5, "overloaded": 4, "generation": 4,
                           "incomplete": 3, "dropped": 6})
    status = {"success": 200, "validation": 422, "overloaded": 429, "generation": 424,
              "incomplete": 500, "dropped": 499}[outcome]
    queue = rng.expovariate(1 / 0.02)
    inference = rng.lognormvariate(0.0, 1.0)
    return {"id": number, "outcome": outcome, "http_status": status, "queue": queue,
            "inference": inference, "e2e": queue + inference + rng.uniform(0.0005, 0.01),
            "prompt_tokens": rng.randint(1, 4000), "gen_tokens": rng.randint(1, 4000)}


def triton_plan(rng: random.Random, replica: Replica, number: int) -> dict:
    outcome = choose(rng, {"success": 85, "REJECTED": 5, "CANCELED": 4, "BACKEND": 4, "OTHER": 2})
    status = {"success": 200, "REJECTED": 503, "CANCELED": 400, "BACKEND": 500, "OTHER": 500}[outcome]
    queue = rng.uniform(0.0001, 0.02)
    inference = rng.uniform(0.002, 0.3)
    return {"id": number, "outcome": outcome, "http_status": status, "queue": queue,
            "inference": inference, "e2e": queue + inference + rng.uniform(0.0001, 0.003),
            "batch": rng.randint(1, 8)}


# Latencies a FastAPI handler sleeps: inside the instrumentator's highr buckets, far from their
# edges, so the duration it measures lands in the planned bucket.
FASTAPI_SLEEPS = (0.175, 0.375, 0.625, 1.25, 2.25)


def fastapi_plan(rng: random.Random, replica: Replica, number: int) -> dict:
    status = int(choose(rng, {"200": 85, "404": 4, "422": 5, "500": 6}))
    return {"id": number, "outcome": "served", "http_status": status,
            "sleep": rng.choice(FASTAPI_SLEEPS), "padding": "x" * rng.randint(20, 4000)}


PLANS = {"vllm": vllm_plan, "sglang": sglang_plan, "tgi": tgi_plan, "triton": triton_plan,
         "fastapi": fastapi_plan}
ROUTES = {"vllm": "/v1/completions", "sglang": "/generate", "tgi": "/generate",
          "triton": "/v2/models/densenet_onnx/infer", "fastapi": "/predict"}


def drive(replica: Replica, seed: int, until: float, rate: float, stop: threading.Event) -> None:
    """Requests at a seeded Poisson pace, and the replica's gauges a few times a second."""
    rng = random.Random(seed)
    gauges = random.Random(seed + 1)
    number = 0
    pool = ThreadPoolExecutor(max_workers=12)
    next_request = time.time()
    next_gauge = time.time()
    while not stop.is_set() and time.time() < until:
        now = time.time()
        if replica.engine in PLANS and now >= next_request:
            number += 1
            plan = PLANS[replica.engine](rng, replica, number)
            pool.submit(replica.post, ROUTES[replica.engine], plan)
            next_request += rng.expovariate(rate)
        if now >= next_gauge and replica.engine == "container":
            # One order for both, once a second: the run's load on a 2-core machine (and so
            # the delay between inferscope sending a scrape and a replica serving it) stays low.
            pool.submit(replica.post, "/control", {
                "gauges": gauge_readings(replica, gauges),
                "cpu": {"container": round(gauges.uniform(0, 1.5), 3)}})
            next_gauge += 1.0
        elif now >= next_gauge:
            pool.submit(replica.post, "/control", {"gauges": gauge_readings(replica, gauges)})
            if replica.engine == "node":
                pool.submit(replica.post, "/control", {"cpu": {
                    mode: round(gauges.uniform(0, 0.4), 3) for mode in
                    ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")}})
            next_gauge += 0.37
        time.sleep(max(0.0, min(next_request, next_gauge) - time.time()))
    pool.shutdown(wait=True)


def gauge_readings(replica: Replica, rng: random.Random) -> dict:
    engine = replica.engine
    if engine in ("vllm", "sglang"):
        return {"running": rng.randint(0, 64), "waiting": rng.randint(0, 30),
                "kv_cache": round(rng.random(), 4)}
    if engine == "tgi":
        return {"running": rng.randint(0, 32), "waiting": rng.randint(0, 16)}
    if engine == "triton":
        return {"waiting": rng.randint(0, 20), "gpu_util": round(rng.random(), 3),
                "gpu_used": rng.randint(1, 15) * 2**30}
    if engine == "node":
        total = 64 * 2**30
        return {"mem_total": total, "mem_available": rng.randint(4, 60) * 2**30}
    if engine == "container":
        # Limits change now and then (an operator resizing a pod in place), so the lowest of
        # the two replicas' moves between them; c1 never reports a memory limit.
        values = {"working_set": rng.randint(200, 4000) * 2**20}
        if rng.random() < 0.15 or replica.name not in LIMITS:
            LIMITS[replica.name] = rng.choice((0.5, 1.0, 1.5, 2.0, 4.0))
        values["cpu_limit"] = LIMITS[replica.name]
        if replica.name == "c0":
            values["memory_limit"] = 6 * 2**30
        return values
    return {}


LIMITS: dict[str, float] = {}  # container replica -> its CPU limit now


# ---- The run ----

def deployments(logs: Path, python: str, tgi: str) -> list[Replica]:
    taken: set[int] = set()
    port = lambda: free_port(taken)  # noqa: E731
    return [
        Replica("vllm", "r0", "vllm", port(), logs, python, tgi,
                model_name='Llama "3.1" 8B\\instruct'),
        Replica("vllm", "r1", "vllm", port(), logs, python, tgi, variant="v063",
                model_name="llama-3.1-8b\nsecond line"),
        Replica("sglang", "r0", "sglang", port(), logs, python, tgi, model_name="qwen2.5-7b"),
        Replica("tgi", "r0", "tgi", port(), logs, python, tgi),
        Replica("tgi", "r1", "tgi", port(), logs, python, tgi),
        Replica("triton", "r0", "triton", port(), logs, python, tgi),
        Replica("fastapi", "r0", "fastapi", port(), logs, python, tgi),
        Replica("node", "n0", "node", port(), logs, python, tgi),
        Replica("container", "c0", "container", port(), logs, python, tgi),
        Replica("container", "c1", "container", port(), logs, python, tgi),
    ]


def write_config(path: Path, replicas: list[Replica]) -> None:
    lines = [f"scrape_interval_ms = {INTERVAL_MS}", "scrape_timeout_ms = 800", 'demo = "off"',
             "", "[host]", 'processes = "auto"', 'nvml = "off"', ""]
    for replica in replicas:
        lines += ["[[targets]]", f'url = "{replica.url}/metrics"', 'environment = "truth"',
                  f'deployment = "{replica.deployment}"', f'replica = "{replica.name}"', ""]
    path.write_text("\n".join(lines))


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inferscope", default=str(HERE.parent / "target/debug/inferscope"))
    parser.add_argument("--tgi", default=str(HERE.parent / "target/debug/truth-tgi-exporter"))
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--seconds", type=float, default=150)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(HERE.parent / "target/truth"))
    parser.add_argument("--compare-only", action="store_true",
                        help="compare the views and logs of the last run again (no run)")
    args = parser.parse_args()
    out = Path(args.out)
    if args.compare_only:
        saved = json.loads((out / "run.json").read_text())
        replicas = deployments(out / "logs", args.python, args.tgi)
        for replica, meta in zip(replicas, saved["replicas"]):
            replica.log = Path(meta["log"])
            replica.down = [tuple(span) for span in meta["down"]]
        rss = {tuple(key.split("/")): value for key, value in saved["rss"].items()}
        return compare(replicas, json.loads((out / "views.json").read_text()), saved["asked_ms"], rss)
    shutil.rmtree(out, ignore_errors=True)
    logs = out / "logs"
    logs.mkdir(parents=True)
    replicas = deployments(logs, args.python, args.tgi)
    inferscope = None
    try:
        for replica in replicas:
            replica.start()
        # One request each before scraping starts, so lazily created families exist.
        warm = random.Random(args.seed - 1)
        for replica in replicas:
            if replica.engine in PLANS:
                replica.post(ROUTES[replica.engine], PLANS[replica.engine](warm, replica, 0))
        config = out / "inferscope.toml"
        write_config(config, replicas)
        site = socket.socket()
        site.bind(("127.0.0.1", 0))
        site_port = site.getsockname()[1]
        site.close()
        environment = dict(os.environ, LEPTOS_SITE_ADDR=f"127.0.0.1:{site_port}",
                           LEPTOS_OUTPUT_NAME="inferscope",
                           LEPTOS_SITE_ROOT=str(HERE.parent / "target/site"), RUST_LOG="warn")
        with open(out / "inferscope.log", "w") as server_log:
            inferscope = subprocess.Popen([args.inferscope, "--config", str(config)], env=environment,
                                          stdout=server_log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{site_port}"
        wait_for(f"{base}/healthz", 60)
        started_ms = time.time() * 1000
        print(f"truth: {len(replicas)} replicas, inferscope at {base}, {args.seconds:.0f} s of traffic",
              flush=True)
        stop = threading.Event()
        until = time.time() + args.seconds
        drivers = [threading.Thread(target=drive, args=(r, args.seed * 100 + i, until,
                                                          3.0 if r.engine == "fastapi" else 7.0, stop))
                   for i, r in enumerate(replicas)]
        for thread in drivers:
            thread.start()
        by_name = {(r.deployment, r.name): r for r in replicas}

        def at(fraction: float) -> None:
            time.sleep(max(0.0, started_ms / 1000 + args.seconds * fraction - time.time()))

        # The faults, in order.
        at(0.30)
        by_name[("vllm", "r0")].restart()
        by_name[("tgi", "r0")].restart()
        by_name[("container", "c1")].restart()
        at(0.45)
        for key in (("vllm", "r1"), ("tgi", "r1"), ("sglang", "r0"), ("triton", "r0")):
            by_name[key].post("/control", {"outage_s": 12})  # longer than the 5 s rate window
        at(0.65)
        by_name[("vllm", "r0")].post("/control", {"hide": [{
            "name": "vllm:request_success_total", "labels": {"finished_reason": "stop"},
            "key": ["success", "stop"]}], "for_s": 4})
        at(0.80)
        by_name[("fastapi", "r0")].post("/control", {"outage_s": 8})
        for thread in drivers:
            thread.join()
        time.sleep(2.5)
        asked_ms = time.time() * 1000
        views = {}
        span = f"&from={int(started_ms) - 10_000}&to={int(asked_ms)}"
        for deployment in sorted({r.deployment for r in replicas}):
            views[deployment] = fetch_json(
                f"{base}/api/v1/view?environment=truth&deployment={deployment}{span}")
        # One model's view (its name has quotes and a backslash), and the view split by model.
        first = by_name[("vllm", "r0")].model_name
        views[f"vllm model={first}"] = fetch_json(
            f"{base}/api/v1/view?environment=truth&deployment=vllm&model={quote(first)}{span}")
        views["vllm by_model"] = fetch_json(
            f"{base}/api/v1/view?environment=truth&deployment=vllm{span}&by_model=" + ",".join(
                ("token_throughput", "inference_volume", "inter_token_latency", "prefill_time",
                 "response_time", "kv_cache_usage", "prefix_cache_hit_rate", "preemptions",
                 "finished_reasons")))
        rss = {(r.deployment, r.name): rss_bytes(r.process.pid) for r in replicas if r.process}
        (out / "views.json").write_text(json.dumps(views))
        (out / "run.json").write_text(json.dumps({
            "asked_ms": asked_ms,
            "rss": {f"{d}/{n}": v for (d, n), v in rss.items()},
            "replicas": [{"log": str(r.log), "down": r.down} for r in replicas]}))
    finally:
        if inferscope is not None:
            inferscope.send_signal(signal.SIGTERM)
            try:
                inferscope.wait(10)
            except subprocess.TimeoutExpired:
                inferscope.kill()
        for replica in replicas:
            replica.stop()
    return compare(replicas, views, asked_ms, rss)


def rss_bytes(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


# ---- Comparison ----

def series_key(series_id) -> object:
    if isinstance(series_id, dict):
        (kind, value), = series_id.items()
        return (kind, value)
    return series_id


def compare(replicas: list[Replica], views: dict, asked_ms: float, rss: dict) -> int:
    wrong_total = 0
    rows = []
    examples = []
    worst_rate_error = 0.0
    worst_slack = 0.0
    for name, view in views.items():
        # "vllm": the deployment's view; "vllm model=…": one model's; "vllm by_model": split.
        deployment, _, variant = name.partition(" ")
        members = [r for r in replicas if r.deployment == deployment]
        if variant.startswith("model="):
            members = [r for r in members if r.model_name == variant[len("model="):]]
        split = variant == "by_model"
        targets = [reference.replay(read_events(r.log), r.engine, r.variant, INTERVAL_MS)
                   for r in members]
        step = view["step_ms"]
        grid = reference.Grid(view["start_ms"], view["end_ms"], step,
                              max(step, reference.RATE_WINDOW_SCRAPES * INTERVAL_MS),
                              max(step, 2 * INTERVAL_MS))
        times = grid.times()
        # Per point, the largest timing slack of any replica in the window.
        slacks = [reference.timing_slack(t, grid, INTERVAL_MS) for t in targets]
        slack = [max((s[i] for s in slacks), default=0.0) for i in range(len(times))]
        scrape_times = sorted(s.t for t in targets for s in t.good) + sorted(
            f for t in targets for f in t.failed)
        down = [span for r in members for span in r.down]
        kind = members[0].engine
        engine = kind if not variant else f"{kind} {variant[:24]}"  # the rows' label
        panels = {p["id"]: p for p in view["panels"]}

        def ambiguous(t: int, width: int) -> bool:
            return any(edge <= s < edge + EDGE_MARGIN_MS for edge in (t - width, t)
                       for s in scrape_times)

        def near_restart(t: int, width: int) -> bool:
            return any(t - width - 1500 < back and killed < t + 1500 for killed, back in down)

        def check(panel_id: str, expected: dict, kind: str, only: set | None = None,
                  skip: frozenset = frozenset()) -> None:
            """Every point of the panel's series against `expected`; a series on one side only is
            wrong at each of its points. A panel that mixes a rate and a gauge is checked in two
            calls: `only` these series, or all but those in `skip`."""
            nonlocal wrong_total, worst_rate_error, worst_slack
            panel = panels.get(panel_id)
            got = {series_key(s["id"]): dict((p[0], p[1]) for p in s["points"])
                   for s in (panel or {}).get("series", [])}
            above = {(series_key(a["series"]), a["at_ms"]) for a in (panel or {}).get("above", [])}
            checked = skipped = wrong = 0
            keys = set(expected) | set(got)
            if only is not None:
                keys &= only
            keys -= skip
            for key in sorted(keys, key=str):
                want_line = expected.get(key)
                got_line = got.get(key)
                for index, t in enumerate(times):
                    if t > asked_ms - 2 * INTERVAL_MS:
                        continue
                    width = grid.lookback if kind == "gauge" else grid.window
                    if ambiguous(t, width) or (kind == "gauge" and near_restart(t, width)):
                        skipped += 1
                        continue
                    want = want_line[index] if want_line is not None else None
                    have = got_line.get(t) if got_line is not None else None
                    want_above = False
                    if isinstance(want, tuple):
                        want, want_above = want
                    tolerance = RATE_TOLERANCE + slack[index]
                    ok = same(have, want, kind, tolerance)
                    if ok and have is not None and kind == "percentile":
                        ok = ((key, t) in above) == want_above
                    if kind == "rate" and have is not None and want:
                        error = abs(have - want) / abs(want)
                        worst_rate_error = max(worst_rate_error, error)
                        worst_slack = max(worst_slack, slack[index])
                    checked += 1
                    if not ok:
                        wrong += 1
                        if sum(e.startswith(f"  {engine} {panel_id}") for e in examples) < 4:
                            examples.append(f"  {engine} {panel_id} {key} at {t}: inferscope "
                                            f"{have!r}{' (above)' if (key, t) in above else ''}, "
                                            f"reference {want!r}{' (above)' if want_above else ''}")
            wrong_total += wrong
            rows.append((engine, panel_id, checked, skipped, wrong))

        if split:
            split_checks(check, members, targets, grid)
            continue
        check("inference_volume", reference.volume(targets, grid), "rate")
        for panel_id, signal_name in (("response_time", "EndToEndSeconds"),
                                 ("inference_time", "InferenceSeconds"),
                                 ("time_to_first_byte", "TimeToFirstByteSeconds"),
                                 ("engine_queue_time", "EngineQueueSeconds"),
                                 ("prompt_tokens", "PromptTokens"),
                                 ("generation_tokens", "GenerationTokens"),
                                 ("request_size", "RequestSizeBytes"),
                                 ("response_size", "ResponseSizeBytes")):
            lines = (reference.percentile_lines(targets, grid, signal_name)
                     or reference.mean_line(targets, grid, signal_name) or {})
            if lines or panels.get(panel_id, {}).get("series"):
                check(panel_id, lines, "percentile")
        concurrent = {}
        for series, key in (("in_progress", ("ConcurrentRequests", "in_progress")),
                            ("queued", ("ConcurrentRequests", "queued"))):
            line = reference.gauge_sum(targets, grid, key)
            if line:
                concurrent[series] = line
        if concurrent or panels.get("concurrent_requests", {}).get("series"):
            check("concurrent_requests", concurrent, "gauge")
        kv = reference.gauge_sum(targets, grid, ("KvCacheUsage", None), average=True)
        if kind == "triton":
            gpu = "GPU-2bd1a2a8-5f6b-4bd0-b2a8-0e2f7a3c9d10"
            util = reference.gauge_sum(targets, grid, ("GpuUtilization", "GPU"))
            check("gpu_usage", {("gpu", gpu): util, "avg": util}, "gauge")
            used = reference.gauge_sum(targets, grid, ("GpuMemoryUsedBytes", "GPU"))
            total = reference.gauge_sum(targets, grid, ("GpuMemoryTotalBytes", "GPU"))
            check("gpu_memory", {("gpu", gpu): used, "total": total}, "gauge")
        elif kv:
            check("gpu_usage", {"kv_cache": kv}, "gauge")
        llm_checks(check, members, targets, grid)
        if kind == "node":
            cpu = reference.counter_rate(targets, grid, "CpuSeconds")[0]
            check("cpu", {("replica", "n0"): cpu, "avg": cpu}, "rate")
            memory = reference.gauge_sum(targets, grid, ("MemoryWorkingSetBytes", None))
            check("memory", {("replica", "n0"): memory, "avg": memory}, "gauge")
        elif kind == "container":
            # The page's container figures, not its process_* nor the host reader's /proc.
            rates = reference.counter_rate(targets, grid, "CpuSeconds")
            cpu = {("replica", r.name): rates.get(i, [None] * len(times)) for i, r in enumerate(members)}
            cpu["avg"] = reference.member_average(list(cpu.values()))
            check("cpu", cpu, "rate", skip=frozenset({"limit"}))
            limit = reference.gauge_min(targets, grid, ("CpuLimitCores", None))
            check("cpu", {"limit": limit}, "gauge", only={"limit"})
            memory = {("replica", r.name): reference.gauge_line(t, grid, ("MemoryWorkingSetBytes", None))
                      for r, t in zip(members, targets)}
            memory["avg"] = reference.member_average(list(memory.values()))
            memory["limit"] = reference.gauge_min(targets, grid, ("MemoryLimitBytes", None))
            check("memory", memory, "gauge")
        elif kind in ("vllm", "sglang", "fastapi"):
            wrong_total += companions(deployment, members, panels, times, asked_ms, rss, rows, examples)
        if variant.startswith("model="):
            # Replicas that serve other models are not in this model's view at all.
            others = [r.name for r in replicas if r.deployment == deployment and r not in members]
            for panel in view["panels"]:
                for series in panel.get("series", []):
                    if series_key(series["id"]) in {("replica", o) for o in others}:
                        wrong_total += 1
                        examples.append(f"  {name} {panel['id']}: a line for {series['id']}")
            if sorted(view.get("models", [])) != sorted(r.model_name for r in replicas
                                                        if r.deployment == deployment):
                wrong_total += 1
                examples.append(f"  {name}: models {view.get('models')!r}")

    print(f"\n{'engine':<22} {'panel':<22} {'checked':>8} {'skipped':>8} {'wrong':>6}")
    for engine, panel, checked, skipped, wrong in rows:
        print(f"{engine:<22} {panel:<22} {checked:>8} {skipped:>8} {wrong:>6}")
    checked = sum(r[2] for r in rows)
    print(f"\ntruth: {checked} points checked, {sum(r[3] for r in rows)} skipped, {wrong_total} wrong; "
          f"rates within {RATE_TOLERANCE:.1%} plus each window's timing slack (worst error seen "
          f"{worst_rate_error:.2%}, largest slack {worst_slack:.2%}), the rest exact")
    if examples:
        print("first differences:\n" + "\n".join(examples))
    if checked < 1000:
        print("truth: too few points were compared to say anything")
        return 1
    return 1 if wrong_total else 0


def llm_checks(check, members, targets, grid) -> None:
    """The LLM engine panels, unsplit, on every deployment (where no page feeds one, it must
    have no lines)."""
    whole = lambda number, detail=None: "all"  # noqa: E731
    tokens = {}
    for series, signal in (("prompt", "PromptTokensProcessed"), ("generated", "GenerationTokensProduced")):
        line = reference.signal_rates(targets, grid, signal, whole).get("all")
        if line is not None:
            tokens[series] = line
    check("token_throughput", tokens, "rate")
    for panel_id, signal_name in (("inter_token_latency", "InterTokenSeconds"),
                                  ("prefill_time", "PrefillSeconds"), ("decode_time", "DecodeSeconds")):
        check(panel_id, reference.percentile_lines(targets, grid, signal_name) or {}, "percentile")
    kv = {("replica", r.name): reference.gauge_line(t, grid, ("KvCacheUsage", None))
          for r, t in zip(members, targets) if any(("KvCacheUsage", None) in s.gauges for s in t.good)}
    if kv:
        kv["avg"] = reference.gauge_sum(targets, grid, ("KvCacheUsage", None), average=True)
    check("kv_cache_usage", kv, "gauge")
    hits = reference.ratio_lines(targets, grid, "PrefixCacheHits", "PrefixCacheQueries", whole)
    check("prefix_cache_hit_rate", {"hit_rate": hits["all"]} if hits else {}, "ratio")
    preempted = reference.signal_rates(targets, grid, "Preemptions", whole)
    check("preemptions", {"preemptions": preempted["all"]} if preempted else {}, "rate")
    accepted = reference.ratio_lines(targets, grid, "SpecAcceptedTokens", "SpecDraftTokens", whole)
    check("spec_decode_acceptance", {"acceptance": accepted["all"]} if accepted else {}, "ratio")
    finished = reference.signal_rates(targets, grid, "FinishedRequests",
                                      lambda number, reason: ("reason", reason))
    check("finished_reasons", finished, "rate")


def split_checks(check, members, targets, grid) -> None:
    """The view split by model (`by_model=`): a line per model, named as the page labels it."""
    model = lambda number, detail=None: ("model", members[number].model_name)  # noqa: E731
    check("token_throughput", reference.signal_rates(targets, grid, "GenerationTokensProduced", model),
          "rate")
    # The API server's HTTP families beside vLLM's engine carry no model: the empty model.
    check("inference_volume", reference.signal_rates(
        targets, grid, "Requests",
        lambda number, detail: ("model", "") if detail.endswith("xx") else model(number)), "rate")
    for panel_id, signal_name in (("inter_token_latency", "InterTokenSeconds"),
                                  ("prefill_time", "PrefillSeconds"), ("response_time", "EndToEndSeconds")):
        lines = {}
        for number, target in enumerate(targets):
            own = reference.percentile_lines([target], grid, signal_name)
            if own:
                lines[model(number)] = own["p99"]
        check(panel_id, lines, "percentile")
    check("kv_cache_usage", {model(n): reference.gauge_line(t, grid, ("KvCacheUsage", None))
                             for n, t in enumerate(targets)}, "gauge")
    check("prefix_cache_hit_rate",
          reference.ratio_lines(targets, grid, "PrefixCacheHits", "PrefixCacheQueries", model), "ratio")
    check("preemptions", reference.signal_rates(targets, grid, "Preemptions", model), "rate")
    check("finished_reasons", reference.signal_rates(targets, grid, "FinishedRequests", model), "rate")


def companions(deployment, members, panels, times, asked_ms, rss, rows, examples) -> int:
    """Loopback replicas: inferscope's own CPU and memory readings, beside the page's process_*,
    must have no gaps the companions cause and must count each process once. Returns the
    points wrong."""
    engine = f"{members[0].engine} (host reader)"
    wrong_all = 0
    for panel_id in ("cpu", "memory"):
        panel = panels.get(panel_id, {})
        lines = {series_key(s["id"]): s["points"] for s in panel.get("series", [])}
        checked = wrong = 0
        for replica in members:
            points = lines.get(("replica", replica.name), [])
            first = next((t for t, v in points if v is not None), None)
            for t, value in points:
                if first is None or t < first + 3000 or t > asked_ms - 3000:
                    continue
                if any(killed - 3000 < t < back + 6000 for killed, back in replica.down):
                    continue
                checked += 1
                if value is None:
                    wrong += 1
                    if len(examples) < 25:
                        examples.append(f"  {deployment} {panel_id} {replica.name} at {t}: a gap")
            if panel_id == "memory" and points:
                last = next((v for t, v in reversed(points) if v is not None), None)
                real = rss.get((deployment, replica.name))
                checked += 1
                # Counted twice (page's process_* plus the host reader) would be about double.
                if last is None or real is None or not 0.6 * real <= last <= 1.5 * real:
                    wrong += 1
                    examples.append(f"  {deployment} memory {replica.name}: {last} vs VmRSS {real}")
        if not lines:
            wrong += 1
            examples.append(f"  {deployment} {panel_id}: no host readings at all")
        rows.append((engine, panel_id, checked, 0, wrong))
        wrong_all += wrong
    return wrong_all


def same(have, want, kind: str, tolerance: float = RATE_TOLERANCE) -> bool:
    if have is None or want is None:
        return have is None and want is None
    if kind == "rate":
        return abs(have - want) <= tolerance * abs(want) + 1e-9
    return abs(have - want) <= 1e-9 * max(abs(want), 1.0)


if __name__ == "__main__":
    sys.exit(main())
