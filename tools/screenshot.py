"""Open the real Postroom window on a throwaway data folder, show one page, and save a PNG of it.

Usage: python tools/screenshot.py [OUTPUT.png] [--page TITLE-OR-KEY] [--theme light|dark] [--demo-traffic]
Run it under Xvfb for a real window system (see `make screenshot`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer

from app.cli import builtin_modules, parse_global
from app.ui.application import GuiSession, create_application, open_session

if TYPE_CHECKING:
    from app.kernel.jobs import JobHandle

DEFAULT_OUTPUT = Path(tempfile.gettempdir()) / "postroom-shot.png"


def _demo_traffic(session: GuiSession) -> None:
    """Put something on the bus so the Activity page and the status bar have rows and a job to show."""
    from app.kernel.events import CancelJob, ModuleStarted, SettingChanged

    bus = session.kernel.bus

    def broken_handler(_event: SettingChanged) -> None:
        raise RuntimeError("the demo handler refuses this setting")

    dispose = bus.subscribe(SettingChanged, broken_handler)
    session.kernel.settings.set("demo.greeting", "hello")
    dispose()
    worker = threading.Thread(target=lambda: bus.publish(ModuleStarted(name="demo")), name="demo-worker")
    worker.start()
    worker.join()
    bus.execute(CancelJob(job_id=999))

    def long_job(handle: JobHandle) -> None:
        for step in range(0, 10_000, 250):
            handle.check()
            handle.report(step, 10_000, "reading rows", force=True)
            time.sleep(0.4)

    session.kernel.jobs.start("Importing contacts.csv", long_job)


def _find_page(session: GuiSession, wanted: str) -> str | None:
    wanted = wanted.lower()
    return next((p.key for p in session.window.pages if wanted in (p.key.lower(), p.title.lower())), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("output", nargs="?", default=DEFAULT_OUTPUT, type=Path)
    parser.add_argument("--page", default="", help="page title or key, e.g. Activity")
    parser.add_argument("--theme", choices=("system", "light", "dark"), default="")
    parser.add_argument("--demo-traffic", action="store_true", help="publish a few events and start a job")
    parser.add_argument("--data-dir", default="", help="use this data folder (default: a new empty one)")
    parser.add_argument("--delay", type=int, default=800, help="milliseconds to wait after the first paint")
    args = parser.parse_args(argv)

    app = create_application()
    with tempfile.TemporaryDirectory(prefix="postroom-shot-") as scratch:
        folder = args.data_dir or scratch
        session = open_session(app, parse_global(["--data-dir", folder]), builtin_modules)
        if session is None:
            print("another Postroom owns the folder", file=sys.stderr)
            return 1
        try:
            if args.theme:
                session.theme.set_mode(args.theme)
            if args.demo_traffic:
                _demo_traffic(session)
            if args.page:
                key = _find_page(session, args.page)
                if key is None:
                    print(f"no page {args.page!r}; pages: {', '.join(session.window.page_keys())}",
                          file=sys.stderr)
                    return 2
                session.window.show_page(key)
            window = session.window
            window.show()

            def save() -> None:
                args.output.parent.mkdir(parents=True, exist_ok=True)
                window.grab().save(str(args.output))
                print(f"saved {args.output}")
                app.quit()

            # Let the first paint, queued bus records and a few progress reports arrive before the grab.
            window.first_painted.connect(lambda: QTimer.singleShot(args.delay, save))
            app.exec()
        finally:
            session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
