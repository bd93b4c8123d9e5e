"""Load on the tracking endpoint: opens and clicks with valid tokens, recorded durably, then every row counted.

The endpoint runs as `postroom-tracker serve` in its own process on 127.0.0.1 (access log on, SQLite with
synchronous=FULL); the load comes from `wrk` (Debian package) in another process, or from a Python asyncio
client when wrk is missing. Goal: >= 3,000 requests/s, p99 < 50 ms, no event lost.

    .venv/bin/python bench/tracker_load.py [--seconds 10] [--connections 32] [--client wrk|python]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Thunderbird/128.0"
LUA = """
local paths = {}
for line in io.lines(os.getenv("TRACKER_PATHS")) do paths[#paths + 1] = line end
local i = math.random(#paths)
request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i], {["User-Agent"] = "AGENT"})
end
""".replace("AGENT", AGENT)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(folder: Path, count: int) -> tuple[str, list[str]]:
    """A database with the app's keys and a run's links, and ``count`` request paths (half opens, half clicks)."""
    from app.modules.stats.api import TrackingLinks
    from app.modules.stats.published import register_links
    from app.modules.stats.store import save_remote_ring
    from app.modules.stats.tokens import KeyRing
    from app.modules.stats.tracker.standalone import open_database

    url = f"sqlite:///{folder / 'tracker.sqlite3'}"
    db = open_database(url)
    ring = KeyRing.new()
    with db.transaction() as session:
        save_remote_ring(session, ring)
    ids = list(register_links(db, 1, [f"https://shop.example.com/item/{n}?utm_source=mail" for n in range(20)])
               .values())
    db.dispose()
    links = TrackingLinks("", ring)
    sent = time.time() - 3600  # an hour ago: people, not prefetch
    paths = []
    for n in range(count):
        full = (links.open_pixel_url(1, n + 1, sent) if n % 2 == 0
                else links.click_url(1, n + 1, ids[n % len(ids)], sent))
        paths.append(full)
    return url, paths


def start_server(url: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen([sys.executable, "-m", "app.modules.stats.tracker.standalone", "serve", "--port",
                               str(port), "--database-url", url], cwd=ROOT, stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"the endpoint did not start; see {log_path}")


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(port: int, paths_file: Path, seconds: int, connections: int, folder: Path) -> dict[str, float]:
    script = folder / "paths.lua"
    script.write_text(LUA)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{port}"], env={**os.environ, "TRACKER_PATHS": str(paths_file)},
                         capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"requests": total, "bad": int(bad[1]) if bad else 0,
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
            "p50": _ms(re.search(r"50%\s+(\S+)", out)[1]), "p99": _ms(re.search(r"99%\s+(\S+)", out)[1]),  # type: ignore[index]
            "socket_errors": errors[1] if errors else "none"}


async def _python_load(port: int, paths: list[str], seconds: float, connections: int) -> dict[str, float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    end = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < end:
            path = paths[next(counter) % len(paths)]
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {AGENT}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: (\d+)", head)[1]) if b"ontent-length" in head else 0  # type: ignore[index]
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(head[9:12])
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    ok = sum(count for status, count in statuses.items() if status in (200, 302))
    return {"requests": len(latencies), "bad": len(latencies) - ok, "rps": len(latencies) / elapsed,
            "p50": latencies[len(latencies) // 2] * 1000, "p99": latencies[int(len(latencies) * 0.99)] * 1000,
            "socket_errors": "none"}


def count_rows(url: str) -> tuple[int, int]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        rows = connection.execute("SELECT count(*), count(DISTINCT uid) FROM stats_event").fetchone()
    return int(rows[0]), int(rows[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    url, paths = prepare(folder, 50_000)
    paths_file = folder / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    port = free_port()
    server = start_server(url, port, folder / "server.log")
    try:
        if args.client == "wrk":
            (folder / "floor.txt").write_text("/\n")  # the endpoint's own floor: a route with no token, no DB
            floor = run_wrk(port, folder / "floor.txt", 3, args.connections, folder)
            figures = run_wrk(port, paths_file, args.seconds, args.connections, folder)
        else:
            floor = asyncio.run(_python_load(port, ["/"], 3, args.connections))
            figures = asyncio.run(_python_load(port, paths, args.seconds, args.connections))
    finally:
        server.send_signal(signal.SIGINT)  # stops accepting, finishes in-flight requests, stores the queue
        server.wait(30)
    rows, unique = count_rows(url)
    ok = int(figures["requests"] - figures["bad"])
    result = {"client": args.client, "connections": args.connections, "seconds": args.seconds,
              "requests": int(figures["requests"]), "failed_responses": int(figures["bad"]),
              "requests_per_second": round(figures["rps"]), "p50_ms": round(figures["p50"], 2),
              "p99_ms": round(figures["p99"], 2), "socket_errors": figures["socket_errors"],
              "rows_stored": rows, "unique_rows": unique, "lost": max(0, ok - rows),
              "floor_rps_no_db": round(floor.get("rps", 0)), "floor_p99_ms": round(floor.get("p99", 0), 2)}
    print(json.dumps(result, indent=2))
    goals = [("requests/s >= 3000", result["requests_per_second"] >= 3000), ("p99 < 50 ms", result["p99_ms"] < 50),
             ("no event lost", result["lost"] == 0 and rows == unique and result["failed_responses"] == 0)]
    for text, met in goals:
        print(f"{'PASS' if met else 'FAIL'}  {text}")
    shutil.rmtree(folder, ignore_errors=True)
    return 0 if all(met for _, met in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
