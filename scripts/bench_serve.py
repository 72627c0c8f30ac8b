"""Benchmark: `tfxfer serve` under load, against calling the SavedModel in-process.

Models: a text model (pretrain-text on data/corpus.txt, fit-head on
data/labeled.tsv) and an image model (fit-head on the hymenoptera photos with
the EfficientNet-Lite0 module of ../shared/data, fed 288x288), exported and
served by `tfxfer serve` in a subprocess, with batching on and off.

- Requests/s and p50/p99 latency of REST :predict with 1, 8 and 32
  concurrent clients (each sends one example per request, back to back),
  beside the same model called in-process on batches of 1.
- A soak: 20,000 text requests from 8 clients; errors, and the server's RSS
  at the start and the end.

Targets: at 32 clients, batching >= 3x the requests/s of no batching on the
image model; p50 of a single text request within 2 ms of the in-process
call; no error and RSS growth under 10% in the soak.

Usage: python scripts/bench_serve.py [--seconds 10] [--soak 20000] [--work DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import aiohttp  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_exports(work: Path) -> Path:
    export = work / "export"
    if (export / "images").is_dir() and (export / "text").is_dir():
        return export
    run = lambda *args: subprocess.run([sys.executable, "-m", "tfxfer", *map(str, args)], check=True,  # noqa: E731
                                       stdout=subprocess.DEVNULL)
    run("pretrain-text", ROOT / "data" / "corpus.txt", "--out", work / "vectors", "--min-count", "3", "--overwrite")
    run("fit-head", "-f", work / "vectors" / "module", "-t", ROOT / "data" / "labeled.tsv", "-o", export, "--name",
        "text", "--overwrite", "--version", "1")
    run("fit-head", "-f", SHARED / "models" / "efficientnet_lite0_feature_vector", "-t",
        SHARED / "images" / "hymenoptera_data" / "train", "-o", export, "--name", "images", "--overwrite",
        "--version", "1", "--cache-dir", work / "cache")
    return export


class Server:
    def __init__(self, export: Path, *extra):
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, "-m", "tfxfer", "serve", str(export), "--port",
                                         str(self.port), "--grpc-port", "0", "--quiet", *extra],
                                        stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        import urllib.request

        for _ in range(600):
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


async def load(url: str, bodies: list[bytes], clients: int, seconds: float | None = None,
               total: int | None = None) -> dict:
    """`clients` workers posting one body after another; latency of each request."""
    latencies, errors, sent = [], 0, 0
    deadline = time.perf_counter() + (seconds or 1e9)

    async def worker(session, start):
        nonlocal errors, sent
        i = start
        while time.perf_counter() < deadline and (total is None or sent < total):
            sent += 1
            body = bodies[i % len(bodies)]
            i += 1
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - t0)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session, c) for c in range(clients)))
        elapsed = time.perf_counter() - t0
    ms = 1000 * np.array(latencies)
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def in_process(version_dir: Path, inputs: list, name: str, repeats: int = 200) -> dict:
    """The SavedModel's serving_default called on batches of one, in this process."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    for x in inputs[:3]:
        fn(**{name: tf.constant([x])})
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(**{name: tf.constant([inputs[i % len(inputs)]])})
        times.append(time.perf_counter() - t0)
    ms = 1000 * np.array(times)
    return {"rps": 1000 / ms.mean(), "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--soak", type=int, default=20000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_serve")
    args = parser.parse_args()
    export = build_exports(args.work)
    texts = [line.split("\t")[0] for line in (ROOT / "data" / "test.tsv").read_text().splitlines()[1:]]
    photos = sorted((SHARED / "images" / "hymenoptera_data" / "val").rglob("*.jpg"))[:64]
    bodies = {
        "text": [json.dumps({"instances": [t]}).encode() for t in texts],
        "images": [json.dumps({"instances": [{"b64": base64.b64encode(p.read_bytes()).decode()}]}).encode()
                   for p in photos],
    }
    raw = {"text": (texts, "text"), "images": ([p.read_bytes() for p in photos], "image_bytes")}
    results = {}
    for model in ("text", "images"):
        results[model] = {"in-process": in_process(export / model / "1", *raw[model])}
        print(model, "in-process", json.dumps(results[model]["in-process"]), flush=True)
    for batching in ("--batching", "--no-batching"):
        server = Server(export, batching)
        try:
            for model in ("text", "images"):
                url = f"{server.url}/v1/models/{model}:predict"
                asyncio.run(load(url, bodies[model], 4, seconds=2))  # warm-up
                for clients in (1, 8, 32):
                    r = asyncio.run(load(url, bodies[model], clients, seconds=args.seconds))
                    results[model][f"{batching[2:]} {clients}"] = r
                    print(model, batching, clients, json.dumps(r), flush=True)
            if batching == "--batching" and args.soak:
                start = rss_mb(server.process.pid)
                r = asyncio.run(load(f"{server.url}/v1/models/text:predict", bodies["text"], 8, total=args.soak))
                r.update(rss_start_mb=start, rss_end_mb=rss_mb(server.process.pid))
                results["soak"] = r
                print("soak", json.dumps(r), flush=True)
        finally:
            server.stop()
    print()
    print("| model | mode | clients | requests/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for model in ("text", "images"):
        for mode, r in results[model].items():
            clients = mode.split()[-1] if " " in mode else "1 (batch of 1)"
            print(f"| {model} | {mode.split()[0]} | {clients} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |")
    img = results["images"]
    soak = results.get("soak")
    print(f"\nimages, 32 clients: batching / no batching = {img['batching 32']['rps'] / img['no-batching 32']['rps']:.2f}x "
          "(target >= 3)")
    print(f"text, 1 client: p50 {results['text']['batching 1']['p50_ms']:.2f} ms against "
          f"{results['text']['in-process']['p50_ms']:.2f} ms in-process (target: within 2 ms)")
    if soak:
        print(f"soak: {soak['requests']} requests, {soak['errors']} errors, RSS {soak['rss_start_mb']:.0f} -> "
              f"{soak['rss_end_mb']:.0f} MB ({100 * (soak['rss_end_mb'] / soak['rss_start_mb'] - 1):+.1f}%)")


if __name__ == "__main__":
    main()
