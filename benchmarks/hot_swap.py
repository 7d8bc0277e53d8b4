"""Hot swap under load: publish planner adapters while N clients call the Serve route.

    python -m benchmarks.hot_swap --clients 4 --swaps 2 --window 20

Deploys the planner on Ray Serve (the same app `nanoresearch serve` runs), starts N client
threads that call /v1/chat/completions for one user in a loop (short replies: latency is
the route's, not a long generation's), then publishes new adapter versions for that
user through the AdapterRegistry, exactly as an SDPO round does. Each adapter is a real
peft LoRA on the base model (freshly initialised with small random B weights, so the
swap loads real weights; training quality is not what is measured here). Reports:
failed requests (target 0), p50/p99 latency before / during / after each swap, and
the time from publish until the first reply made with the new version
(`system_fingerprint`). Prints a table, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nanoresearch import offline

log = logging.getLogger(__name__)


class Load:
    """N threads calling the route; each reply recorded as (start, end, ok, version)."""

    def __init__(self, url: str, user: str, clients: int, max_tokens: int):
        self.url, self.user, self.max_tokens = url, user, max_tokens
        self.records: list[tuple[float, float, bool, str]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(clients)]

    def _loop(self, i: int) -> None:
        import httpx
        body = {"model": f"planner:{self.user}", "max_tokens": self.max_tokens, "temperature": 0,
                "messages": [{"role": "user", "content": f"Plan step {i}: list one baseline."}]}
        with httpx.Client(timeout=600) as c:
            while not self._stop.is_set():
                t0 = time.time()
                try:
                    r = c.post(f"{self.url}/chat/completions", json=body)
                    ok = r.status_code == 200
                    ver = r.json().get("system_fingerprint", "") if ok else f"http {r.status_code}"
                except Exception as e:  # noqa: BLE001 - a failed request is the measurement
                    ok, ver = False, type(e).__name__
                with self._lock:
                    self.records.append((t0, time.time(), ok, ver))

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self.threads:
            t.join(timeout=600)

    def window(self, a: float, b: float) -> list[tuple[float, float, bool, str]]:
        with self._lock:
            return [r for r in self.records if a <= r[0] < b]


def make_adapter(base_dir: Path, out: Path, seed: int) -> Path:
    """A real LoRA adapter for the base model (random small B, so weights differ)."""
    import torch

    from training.sdpo_config import SDPOConfig
    from training.trainer import attach_lora, load_base

    torch.manual_seed(seed)
    model, tok = load_base(base_dir, "float32", "cpu")
    peft_model = attach_lora(model, SDPOConfig(lora_r=4))
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 1e-3)
    peft_model.save_pretrained(str(out))
    return out


def stats(recs: list[tuple[float, float, bool, str]]) -> dict[str, Any]:
    lat = sorted(e - s for s, e, ok, _ in recs if ok)
    p = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 3) if lat else None)
    return {"requests": len(recs), "failed": sum(not ok for *_, ok, _ in recs),
            "p50_s": round(statistics.median(lat), 3) if lat else None, "p99_s": p(0.99)}


def run(clients: int, swaps: int, window: float, max_tokens: int, out: Path) -> dict[str, Any]:
    from benchmarks.sweep import link_shared
    from nanoresearch.config import load_settings
    from serve.ray_planner import deploy_planner, planner_base_url
    from storage.adapters import AdapterRegistry
    from training.hf_model import ensure_base_model

    link_shared(out / "home", load_settings().data_dir)
    settings = load_settings(overrides={"data_dir": str(out / "home")})
    base = ensure_base_model(settings)
    adapters = [make_adapter(base, out / f"adapter{i}", seed=i) for i in range(swaps)]
    t0 = time.time()
    deploy_planner(settings)
    serve_start_s = time.time() - t0
    load = Load(planner_base_url(settings), "bench", clients, max_tokens)
    load.start()
    registry, rows = AdapterRegistry(settings.adapters_dir), []
    time.sleep(window)
    for i, src in enumerate(adapters):
        rows.append(_swap(load, registry, src, window, i))
    load.stop()
    return {"clients": clients, "serve_start_s": round(serve_start_s, 1), "swaps": rows,
            "failed_total": sum(r[k]["failed"] for r in rows for k in ("before", "during", "after"))}


def _swap(load: Load, registry: Any, src: Path, window: float, i: int) -> dict[str, Any]:
    before_a = time.time() - window
    t_pub = time.time()
    rec = registry.publish("bench", src, parent_version=registry.current_version("bench"),
                           base_model="smollm2")
    label = f"v{rec.version}"
    first_new = None
    deadline = t_pub + 600
    while first_new is None and time.time() < deadline:
        hits = [e for s, e, ok, v in load.window(t_pub, time.time()) if ok and v == label]
        first_new = min(hits) if hits else None
        time.sleep(0.2)
    t_new = first_new or time.time()
    time.sleep(window)
    return {"version": label, "before": stats(load.window(before_a, t_pub)),
            "during": stats(load.window(t_pub, t_new)), "after": stats(load.window(t_new, time.time())),
            "time_to_new_version_s": round(t_new - t_pub, 2) if first_new else None}


def table(res: dict[str, Any]) -> str:
    lines = ["| swap | phase | requests | failed | p50 s | p99 s |", "|---|---|---|---|---|---|"]
    for r in res["swaps"]:
        for ph in ("before", "during", "after"):
            s = r[ph]
            lines.append(f"| {r['version']} | {ph} | {s['requests']} | {s['failed']} | {s['p50_s']} | {s['p99_s']} |")
        lines.append(f"| {r['version']} | new version answers after | {r['time_to_new_version_s']} s | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    offline.apply()  # process start: no model hub, no library progress bars
    ap = argparse.ArgumentParser(prog="python -m benchmarks.hot_swap")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--swaps", type=int, default=2)
    ap.add_argument("--window", type=float, default=20.0, help="seconds measured before/after a swap")
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    out = Path(a.out or tempfile.mkdtemp(prefix="nr-hotswap-")).resolve()
    res = run(a.clients, a.swaps, a.window, a.max_tokens, out)
    print(f"hot swap under load: {a.clients} clients, {a.swaps} publishes; Serve start {res['serve_start_s']} s")
    print(table(res))
    print(json.dumps({"benchmark": "hot_swap", **res, "meets_target": res["failed_total"] == 0}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
