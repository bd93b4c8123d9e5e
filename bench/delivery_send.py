"""Delivery benchmark: personalised messages through the real module to Postfix's smtp-sink, against two floors
measured in the same run (smtp-source, and aiosmtplib resending one pre-built message), plus the GUI stall (a Qt
timer in the app's own process) with the sender in a thread and in a process, and peak memory.

    sudo .venv/bin/python bench/delivery_send.py [--messages 20000] [--connections 4] [--memory-recipients 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FIELDS = ("company", "city", "plan", "score", "coupon", "manager", "renewal", "product")
HTML_ROW = ('<tr><td style="padding:8px;font-family:Arial,sans-serif;color:#333333;font-size:14px;line-height:20px">'
            "Our spring collection has arrived, with new colours and fabrics picked for the season.</td></tr>\n")


def template() -> tuple[str, str, str]:
    """A 15 KB HTML email with ten merge fields, its text part, and the subject."""
    merge = ("<p>Dear {{ first_name }} {{ last_name }} of {{ company }} in {{ city }},</p>"
             "<p>Your {{ plan }} plan (score {{ score }}) renews on {{ renewal }}. Use {{ coupon }} with "
             "{{ manager }} for {{ product }}.</p>")
    links = "".join(f'<p><a href="https://shop.example.com/spring/{n}?utm_source=news">Collection {n}</a></p>'
                    for n in range(5))
    rows = HTML_ROW * 78 + links
    html = (f'<html><body><table width="600" cellpadding="0" cellspacing="0">{merge}{rows}'
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> - 1 Rue de la Paix, Paris</p></table></body></html>')
    text = ("Dear {{ first_name }} {{ last_name }} of {{ company }} in {{ city }},\n"
            "Your {{ plan }} plan (score {{ score }}) renews on {{ renewal }}. Use {{ coupon }} with {{ manager }} "
            "for {{ product }}.\n" + "Our spring collection has arrived, with new colours and fabrics.\n" * 50
            + "Unsubscribe: {{ unsubscribe_url }}\n")
    return "Spring news for {{ first_name }}", html, text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    command = ["smtp-sink", f"127.0.0.1:{port}", "1000"]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]
    sink = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return sink
        except OSError:
            time.sleep(0.05)
    raise SystemExit("smtp-sink did not start (apt-get install -y postfix)")


def sample_message(size_of: int = 0) -> bytes:
    from app.modules.delivery.content import JinjaSource, contact_mapping
    from app.modules.delivery.mime import Skeleton

    subject, html, text = template()
    source = JinjaSource(subject, html, text)
    data = {"first_name": "Ada", "last_name": "Lovelace", "fields": dict.fromkeys(FIELDS, "value")}
    parts = source.render(contact_mapping(1, "ada@example.com", data), urls={"unsubscribe_url": "https://t.example/u/x"})
    skeleton = Skeleton(run_id=1, nonce="abcd", from_name="Bench", from_email="bench@example.com")
    return skeleton.build(recipient_id=1, to_name="Ada Lovelace", to_email="ada@example.com", parts=parts,
                          unsubscribe_url="https://t.example/u/x", unsubscribe_mailto="mailto:u@example.com")


def floor_smtp_source(port: int, messages: int, connections: int, message: bytes, folder: Path) -> float:
    path = folder / "sample.eml"
    path.write_bytes(message.replace(b"\r\n", b"\n"))
    started = time.perf_counter()
    subprocess.run(["smtp-source", "-d", "-s", str(connections), "-m", str(messages), "-F", str(path),
                    f"127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL)
    return messages / (time.perf_counter() - started)


def floor_aiosmtplib(port: int, messages: int, connections: int, message: bytes) -> float:
    import aiosmtplib

    async def one_connection(count: int) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for _ in range(count):
            await client.sendmail("bench@example.com", ["ada@example.com"], message)
        await client.quit()

    async def main() -> None:
        share = messages // connections
        await asyncio.gather(*(one_connection(share) for _ in range(connections)))

    started = time.perf_counter()
    asyncio.run(main())
    return messages / (time.perf_counter() - started)


def build_data(folder: Path, recipients: int, mode: str, connections: int, sink_port: int,
               tracking: bool = False) -> tuple[Any, int, int]:
    """A kernel on ``folder`` with ``recipients`` contacts on one list, and an account on the sink (with the
    stats module when ``tracking``: tracked links, open pixel and web views in every message)."""
    from app.kernel.boot import start_kernel
    from app.kernel.paths import AppPaths
    from app.modules.contacts.module import MODULE as CONTACTS
    from app.modules.delivery.messages import SaveAccount
    from app.modules.delivery.module import MODULE as DELIVERY
    from tests.conftest import MemoryKeyring

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({"delivery.worker": mode, "delivery.outbox.enabled": False}))
    paths = AppPaths.inside(folder)
    modules = [CONTACTS, DELIVERY]
    if tracking:
        from app.modules.stats.module import MODULE as STATS

        modules = [CONTACTS, STATS, DELIVERY]
    keyring = MemoryKeyring()
    kernel = start_kernel(paths, modules=modules, secrets_backend=keyring, log_to_file=False)
    kernel.close()
    rng = random.Random(1)
    now = "2025-01-01 00:00:00.000000"
    with sqlite3.connect(paths.database_file) as db:
        db.execute("INSERT INTO contacts_list (name, description, double_opt_in, created_at) "
                   "VALUES ('Bench', '', 0, ?)", (now,))
        list_id = db.execute("SELECT id FROM contacts_list").fetchone()[0]
        batch: list[tuple[Any, ...]] = []
        for i in range(1, recipients + 1):
            email = f"person{i}@example{i % 500}.com"
            fields = {key: f"{key}-{rng.randrange(1000)}" for key in FIELDS}
            batch.append((i, email, email, hashlib.sha256(email.encode()).hexdigest(), f"First{i}", f"Last{i}",
                          "en", "UTC", json.dumps(fields), now, now))
            if len(batch) == 20_000 or i == recipients:
                db.executemany("INSERT INTO contacts_contact (id, email, email_key, email_hash, first_name, "
                               "last_name, language, time_zone, fields, created_at, updated_at) "
                               "VALUES (?,?,?,?,?,?,?,?,?,?,?)", batch)
                db.executemany("INSERT INTO contacts_subscription (contact_id, list_id, status, created_at, "
                               "updated_at) VALUES (?, ?, 'subscribed', ?, ?)",
                               [(row[0], list_id, now, now) for row in batch])
                batch.clear()
    kernel = start_kernel(paths, modules=modules, secrets_backend=keyring, log_to_file=False)
    account_id = kernel.bus.execute(SaveAccount(name="sink", host="127.0.0.1", port=sink_port, tls="none",
                                                per_second=100_000.0, per_hour=10_000_000, per_day=100_000_000,
                                                connections=connections))
    return kernel, list_id, account_id


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def send_with_gui_timer(kernel: Any, list_id: int, account_id: int, *, stop_after: float | None = None,
                        wait_reports: bool = True) -> dict[str, Any]:
    """StartRun with a Qt timer ticking every 5 ms in this (the app's) process; returns rate, stall, memory."""
    from PySide6.QtCore import QElapsedTimer, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from app.modules.delivery import api
    from app.modules.delivery.messages import AudienceSpec, CancelRun, MessageContent, RunStateChanged, StartRun

    app = QApplication.instance() or QApplication([])
    subject, html, text = template()
    clock = QElapsedTimer()
    clock.start()
    lateness: list[float] = []
    state: dict[str, Any] = {"last": None, "run": None, "started": None, "peak_worker": 0.0, "peak_main": 0.0}
    interval = 5

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if state["last"] is not None:
            lateness.append(max(0.0, now - state["last"] - interval))
        state["last"] = now

    finished: dict[str, Any] = {}

    def on_state(event: Any) -> None:  # bus thread: only note it (the GUI thread must not wait on the database)
        if event.run_id == state["run"] and event.state in ("finished", "paused", "cancelled"):
            finished.setdefault("at", time.perf_counter())

    kernel.bus.subscribe(RunStateChanged, on_state)

    def poll() -> None:
        if state["run"] is None:
            state["started"] = time.perf_counter()
            state["run"] = kernel.bus.execute(StartRun(audience=AudienceSpec(lists=(list_id,)), account_id=account_id,
                                                       content=MessageContent(subject=subject, html=html, text=text)))
            return
        worker = getattr(service_host(kernel), "_worker", None)
        if worker is not None and getattr(worker, "pid", None):
            state["peak_worker"] = max(state["peak_worker"], rss_mb(worker.pid))
        state["peak_main"] = max(state["peak_main"], rss_mb(os.getpid()))
        elapsed = time.perf_counter() - state["started"]
        if stop_after is not None and elapsed > stop_after and "stopped" not in state:
            state["stopped"] = elapsed
            kernel.bus.execute(CancelRun(run_id=state["run"]))
        if "at" in finished and "elapsed" not in state:
            state["elapsed"] = state.get("stopped", finished["at"] - state["started"])
            state["send_ticks"] = len(lateness)
            if wait_reports:
                threading.Thread(target=wait_for_reports, daemon=True).start()
            else:
                finished["reported"] = finished["at"]
        if "reported" in finished:
            state["catch_up_s"] = finished["reported"] - finished["at"]
            app.quit()

    def wait_for_reports() -> None:
        """The timeline entries left for after the send (paced while sending) are told to contacts: wait."""
        from app.modules.delivery import store

        while store.pending_reports(kernel.db, 1):
            time.sleep(0.1)
        finished["reported"] = time.perf_counter()

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    timer.start(interval)
    poller = QTimer()
    poller.timeout.connect(poll)
    poller.start(100)
    app.exec()
    timer.stop()
    poller.stop()
    status = api.run_status(kernel.db, state["run"])
    after = sorted(lateness[state["send_ticks"]:]) or [0.0]
    lateness = sorted(lateness[:state["send_ticks"]])
    return {
        "catch_up_s": round(state["catch_up_s"], 1), "catch_up_stall_p99_ms": after[int(len(after) * 0.99)],
        "sent": status.counts.get("sent", 0), "state": status.state, "elapsed_s": round(state["elapsed"], 2),
        "rate": status.counts.get("sent", 0) / state["elapsed"],
        "stall_p50_ms": statistics.median(lateness), "stall_p99_ms": lateness[int(len(lateness) * 0.99)],
        "stall_max_ms": lateness[-1], "ticks": len(lateness),
        "stall_ms_per_s": sum(lateness) / state["elapsed"],
        "peak_main_mb": round(state["peak_main"], 1), "peak_worker_mb": round(state["peak_worker"], 1),
    }


def service_host(kernel: Any) -> Any:
    """The delivery module's worker host (reached through its teardown, for measuring only)."""
    for _name, teardown in kernel.registry._teardowns:
        host = getattr(getattr(teardown, "__self__", None), "host", None)
        if host is not None:
            return host
    for context in kernel.registry.contexts:
        for dispose in context._disposers:
            owner = getattr(dispose, "__self__", None)
            if owner is not None and owner.__class__.__name__ == "WorkerHost":
                return owner
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--modes", default="process,thread")
    parser.add_argument("--tracking", action="store_true",
                        help="also send once with the stats module: tracked links, open pixel, web views")
    parser.add_argument("--memory-recipients", type=int, default=0,
                        help="also start a run to this many recipients and watch memory for --memory-seconds")
    parser.add_argument("--memory-seconds", type=float, default=60.0)
    args = parser.parse_args()
    if shutil.which("smtp-sink") is None:
        raise SystemExit("needs Postfix's smtp-sink and smtp-source: apt-get install -y postfix")
    folder = Path(tempfile.mkdtemp(prefix="postroom-bench-"))
    port = free_port()
    sink = start_sink(port)
    try:
        message = sample_message()
        print(f"message size {len(message) / 1024:.1f} KB, {args.messages} messages, {args.connections} connections")
        source = floor_smtp_source(port, args.messages, args.connections, message, folder)
        print(f"floor smtp-source:            {source:8.0f} msg/s")
        ceiling = floor_aiosmtplib(port, args.messages, args.connections, message)
        print(f"floor aiosmtplib (one msg):   {ceiling:8.0f} msg/s")
        results = {}
        for mode in args.modes.split(","):
            kernel, list_id, account_id = build_data(folder / mode, args.messages, mode, args.connections, port)
            try:
                result = send_with_gui_timer(kernel, list_id, account_id)
            finally:
                kernel.close()
            results[mode] = result
            print(f"postroom, worker {mode:<8}: {result['rate']:8.0f} msg/s  ({result['sent']} sent, "
                  f"{result['state']}, {result['elapsed_s']} s incl. start)  = {result['rate'] / ceiling:.0%} of "
                  f"aiosmtplib, {result['rate'] / source:.0%} of smtp-source")
            print(f"    GUI timer lateness: p50 {result['stall_p50_ms']:.2f} ms  p99 {result['stall_p99_ms']:.2f} ms"
                  f"  max {result['stall_max_ms']:.1f} ms over {result['ticks']} ticks "
                  f"({result['stall_ms_per_s']:.1f} ms late per second);  peak RSS app "
                  f"{result['peak_main_mb']} MB, worker {result['peak_worker_mb']} MB")
            print(f"    then {result['catch_up_s']} s telling contacts the rest of the timeline, GUI p99 "
                  f"{result['catch_up_stall_p99_ms']:.2f} ms meanwhile")
        if args.tracking:
            kernel, list_id, account_id = build_data(folder / "tracking", args.messages, "process",
                                                     args.connections, port, tracking=True)
            try:
                result = send_with_gui_timer(kernel, list_id, account_id, wait_reports=False)
            finally:
                kernel.close()
            print(f"postroom with tracking (process): {result['rate']:8.0f} msg/s  ({result['sent']} sent), GUI p99 "
                  f"{result['stall_p99_ms']:.2f} ms")
        if args.memory_recipients:
            kernel, list_id, account_id = build_data(folder / "memory", args.memory_recipients, "process",
                                                     args.connections, port)
            try:
                result = send_with_gui_timer(kernel, list_id, account_id, stop_after=args.memory_seconds,
                                             wait_reports=False)
            finally:
                kernel.close()
            print(f"memory, {args.memory_recipients} recipients (process worker, cancelled after "
                  f"{args.memory_seconds:.0f} s, {result['sent']} sent): peak RSS app {result['peak_main_mb']} MB, "
                  f"worker {result['peak_worker_mb']} MB; ru_maxrss self "
                  f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
