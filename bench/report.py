"""Run every scenario, compare with the baseline, print a table and write ``bench-results/latest.json``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.baseline import PASSCODE
from bench.scenarios import Limits, run_http, run_sim, run_sim_baseline
from rightly import loop

CPU_RUNS = 3
CPU_ACCOUNTS = tuple(f"{pid}-{i}" for pid in ("R-A", "R-A2", "R-B") for i in range(CPU_RUNS))
ACCOUNTS = ("R-A", "R-A2", "R-B", "B-A", "B-A2", "B-B", *CPU_ACCOUNTS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def emulator_server(limits: Limits, subjects: int) -> Iterator[str]:
    """The emulator as a server in its own process, every account with the bench's limits."""
    seed = [
        {
            "type": "profile",
            "identity": f"u{i}",
            "profileData": {"Email": f"s{i}@example.com"},
            "objectIds": [f"g{i}"],
        }
        for i in range(subjects)
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(seed, f)
    port = free_port()
    args = [sys.executable, "-m", "rightly.emulator", "--port", str(port), "--rate", str(limits.rate)]
    args += ["--max-in-flight", str(limits.max_in_flight), "--latency-ms", str(limits.latency_ms)]
    args += ["--deletion-delay", "86400", "--seed", f.name]
    for pid in ACCOUNTS:
        args += ["--account", f"{pid}:{PASSCODE}:us1"]
    proc = subprocess.Popen(args)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{url}/", timeout=1)
                break
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        os.unlink(f.name)


def memory_with_queue(n: int) -> dict[str, Any]:
    """Peak RSS of a fresh process holding ``n`` queued requests (``python -m bench.memory``)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", str(n)], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_all(
    limits: Limits, n_delete: int, n_access: int, sim_deletions: int, sim_access: int, queued: int
) -> dict[str, Any]:
    console = Console()
    results: dict[str, Any] = {"limits": vars(limits), "started": time.time()}
    with emulator_server(limits, max(n_delete, n_access)) as url:
        console.print(f"emulator at {url}; baseline running alongside on its own accounts")
        base = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.baseline",
                url,
                str(limits.rate),
                str(limits.max_in_flight),
                str(n_delete),
                str(n_access),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        Item = tuple[str, str | None, str | None]
        dele: list[Item] = [("deletion", None, f"u{i}") for i in range(n_delete)]
        by_email: list[Item] = [("deletion", f"s{i}@example.com", None) for i in range(n_delete)]
        acc: list[Item] = [("access", f"s{i}@example.com", f"u{i}") for i in range(n_access)]
        results["a"] = loop.run(run_http("a", url, "R-A", limits, dele))
        console.print("(a) done")
        results["a2"] = loop.run(run_http("a'", url, "R-A2", limits, by_email))
        console.print("(a') done")
        results["b"] = loop.run(run_http("b", url, "R-B", limits, acc))
        console.print("(b) done; waiting for the baseline")
        out, _ = base.communicate()
        results["baseline"] = json.loads(out)
    # Engine CPU per request, excluding time spent waiting on the vendor: the same work against an
    # emulator that answers at once and does not limit, so the process does nothing but Rightly's work.
    # Each runs CPU_RUNS times on fresh accounts and the median counts: one run varies by ±10% here.
    unlimited = Limits(rate=1000.0, max_in_flight=20, latency_ms=0.0)
    with emulator_server(unlimited, max(n_delete, n_access)) as url:
        for key, name, pid, items in (
            ("a", "a", "R-A", dele),
            ("a2", "a'", "R-A2", by_email),
            ("b", "b", "R-B", acc),
        ):
            runs = [
                loop.run(run_http(name, url, f"{pid}-{i}", unlimited, items))["cpu_ms_per_request"]
                for i in range(CPU_RUNS)
            ]
            results[key]["engine_cpu_ms_per_request"] = statistics.median(runs)
            results[key]["engine_cpu_runs"] = runs
    console.print("engine CPU measured against an unlimited emulator")
    # (c) runs on asyncio's own loop: the simulated clock reads its ready queue.
    results["c"] = asyncio.run(run_sim(limits, sim_deletions, sim_access))
    console.print("(c) done")
    results["baseline"]["c"] = asyncio.run(run_sim_baseline(limits, sim_deletions, sim_access))
    results["memory"] = memory_with_queue(queued)
    return results


def fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def render(results: dict[str, Any]) -> Table:
    table = Table(title=f"Rightly vs baseline (limits: {results['limits']})")
    for col in (
        "scenario",
        "time s",
        "calls",
        "calls/req",
        "429s",
        "budget use",
        "subj/del call",
        "lookups/verified",
        "access p50 s",
        "access p95 s",
        "engine CPU ms/req",
        "process CPU ms/req",
        "peak MB",
        "baseline time s",
        "baseline calls",
        "speed-up",
        "calls saved",
    ):
        table.add_column(col, justify="right")
    base = results["baseline"]
    for key in ("a", "a2", "b", "c"):
        r, b = results[key], base[key]
        speed = b["time_s" if key == "c" else "wall"] / r["time_s"] if r["time_s"] else None
        table.add_row(
            r["scenario"],
            fmt(r["time_s"]),
            fmt(r["calls"]),
            fmt(r["calls_per_request"]),
            fmt(r["throttled"]),
            fmt(r["budget_use"]),
            fmt(r["subjects_per_deletion_call"], 1),
            fmt(r.get("lookups_per_verified_deletion")),
            fmt(r["access_p50_s"], 3),
            fmt(r["access_p95_s"], 3),
            fmt(r.get("engine_cpu_ms_per_request")),
            fmt(r["cpu_ms_per_request"]),
            fmt(r["peak_rss_mb"], 0),
            fmt(b.get("wall", b.get("time_s"))),
            fmt(b["calls"]),
            fmt(speed, 1) + "x",
            f"{1 - r['calls'] / b['calls']:.0%}",
        )
    return table


def main(quick: bool = False, output: Path = Path("bench-results/latest.json")) -> int:
    limits = Limits()
    if quick:
        results = run_all(limits, 200, 60, 300, 30, 10_000)
    else:
        results = run_all(limits, 1000, 300, 3000, 300, 100_000)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    console = Console(width=250)
    console.print(render(results))
    console.print(
        f"memory with {results['memory']['queued']:,} requests queued (SQLite): peak {results['memory']['peak_rss_mb']:.0f} MB"
    )
    console.print(f"written to {output}")
    return 0
