"""Running the endpoint: on a background thread inside the app, or in the foreground on a server (uvicorn)."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.kernel.database import Database
from app.modules.stats.tokens import KeyRing
from app.modules.stats.tracker.core import KeySource, TrackerCore, TrackerOptions
from app.modules.stats.tracker.recorder import EventRecorder

log = logging.getLogger(__name__)


def make_core(db: Database, *, own_keys: Callable[[], KeyRing | None] | None = None,
              options: TrackerOptions | None = None,
              on_commit: Callable[[set[str]], None] | None = None) -> TrackerCore:
    options = options or TrackerOptions()
    return TrackerCore(db=db, keys=KeySource(db, own_keys, options.key_refresh_seconds),
                       recorder=EventRecorder(db, on_commit=on_commit), options=options)


def bind(host: str, port: int) -> socket.socket:
    """Bind now, so "address in use" is reported to the caller and port 0 yields the chosen port at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(app: Any, *, forwarded_allow_ips: str) -> Any:
    import uvicorn

    return uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", server_header=False,
                          proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips, timeout_keep_alive=15,
                          backlog=2048, timeout_graceful_shutdown=10)


@dataclass
class TrackerState:
    running: bool
    url: str
    error: str = ""


class EmbeddedTracker:
    """The endpoint on 127.0.0.1 on a thread of the app, so a whole send-open-click loop works offline."""

    def __init__(self, core: TrackerCore, host: str = "127.0.0.1", port: int = 0, *,
                 forwarded_allow_ips: str = "127.0.0.1") -> None:
        self.core = core
        self.forwarded_allow_ips = forwarded_allow_ips
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.error = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}" if self.port else ""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self.error

    def start(self, wait: float = 10.0) -> int:
        """Bind and start serving; raises OSError when the port is taken. Returns the port."""
        sock = bind(self.host, self.requested_port)
        self.port = int(sock.getsockname()[1])
        self.core.recorder.start()
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="postroom-tracker", daemon=False)
        self._thread.start()
        self._started.wait(wait)
        return self.port

    def _serve(self, sock: socket.socket) -> None:
        try:
            import uvicorn

            from app.modules.stats.tracker.app import build_app

            self._server = uvicorn.Server(_uvicorn_config(build_app(self.core),
                                                          forwarded_allow_ips=self.forwarded_allow_ips))
            self._started.set()
            # Off the main thread uvicorn leaves signals alone; it still picks uvloop and httptools if present.
            self._server.run(sockets=[sock])
        except BaseException as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("the tracking endpoint stopped")
        finally:
            self._started.set()
            sock.close()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the requests in flight, store every queued event, then end both threads."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.core.recorder.stop()

    def state(self) -> TrackerState:
        return TrackerState(self.running, self.url, self.error)


def serve_forever(core: TrackerCore, host: str, port: int, *, forwarded_allow_ips: str = "127.0.0.1") -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM; then finish the requests in flight, store every queued
    event and return (exit status 0, as a service manager expects)."""
    # The writer thread and the event loop share the GIL; a short switch interval lets the writer commit
    # promptly instead of waiting up to 5 ms each time (requests wait for that commit).
    sys.setswitchinterval(0.0005)
    tracker = EmbeddedTracker(core, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips)
    tracker.start()
    log.info("tracking endpoint listening", extra={"host": host, "port": tracker.port})
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda _sig, _frame: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            if not tracker.running:
                raise RuntimeError(f"the tracking endpoint stopped: {tracker.error}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("tracking endpoint stopping")
        tracker.stop()


def add_serve_arguments(parser: argparse.ArgumentParser, *, default_host: str = "127.0.0.1") -> None:
    parser.add_argument("--host", default=default_host, help=f"address to listen on (default {default_host})")
    parser.add_argument("--port", type=int, default=8089, help="port to listen on (default 8089)")
    parser.add_argument("--forwarded-allow-ips", default="127.0.0.1", metavar="IPS",
                        help="proxies trusted for X-Forwarded-For (default 127.0.0.1; '*' trusts any)")
    parser.add_argument("--no-access-log", action="store_true", help="do not log each request")
    parser.add_argument("--prefetch-seconds", type=float, default=10.0,
                        help="opens and clicks this soon after sending count as machine prefetch (default 10)")
