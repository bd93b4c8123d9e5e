"""Open the real Postroom window with the editor on a throwaway data folder and save PNGs of the Designer.

Usage: python tools/editor_screenshot.py [OUTPUT.png] [--template NAME] [--library] [--preview] [--theme dark]
Writes OUTPUT.png (the Designer), and with --library OUTPUT-library.png, with --preview OUTPUT-preview.png.
Run it under Xvfb, e.g.:
  QT_QPA_PLATFORM=xcb QTWEBENGINE_DISABLE_SANDBOX=1 xvfb-run -a -s "-screen 0 1400x900x24" \
      .venv/bin/python tools/editor_screenshot.py /tmp/editor.png --preview
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from app.cli import parse_global
from app.kernel.boot import load_specs
from app.ui.application import create_application, open_session

MODULES = ["app.modules.contacts.module:MODULE", "app.modules.editor.module:MODULE"]
DEFAULT_OUTPUT = Path(tempfile.gettempdir()) / "postroom-editor.png"


def wait_for(app: QApplication, condition: Callable[[], Any], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def settle(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def grab_screen(widget: QWidget, path: Path) -> None:
    """What is on screen where ``widget`` is (dialogs over the window included)."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    frame = widget.frameGeometry()
    screen.grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height()).save(str(path))
    print(f"saved {path}")


def seed_contacts(kernel: Any) -> None:
    """A few contacts so the preview's contact picker has people in it."""
    from app.modules.contacts import api  # noqa: F401 - the module's tables are registered by its import
    from app.modules.contacts.models import Contact, MailingList, Subscription

    with kernel.db.transaction() as session:
        news = MailingList(name="Newsletter")
        session.add(news)
        session.flush()
        for number, (first, last) in enumerate((("Ada", "Lovelace"), ("Grace", "Hopper"), ("Linus", "Torvalds"))):
            email = f"{first.lower()}@example.com"
            from app.modules.contacts.addresses import email_hash

            person = Contact(email=email, email_key=email, email_hash=email_hash(email), first_name=first,
                             last_name=last, fields={"plan": "pro" if number else "free"})
            session.add(person)
            session.flush()
            session.add(Subscription(contact_id=person.id, list_id=news.id, status="subscribed"))


def shoot_preview(app: QApplication, designer: Any, stem: Path) -> None:
    dialog = designer.open_preview()
    dialog.resize(1000, 840)
    dialog.move(200, 20)
    wait_for(app, lambda: dialog.contact.count() > 1, 5)
    dialog.find.setText("grace")
    dialog.search_contacts()
    wait_for(app, lambda: dialog.rendered is not None and "Grace" in dialog.rendered.html)
    settle(app, 3.0)
    grab_screen(dialog, Path(f"{stem}-preview.png"))
    dialog.set_width("mobile")
    settle(app, 2.0)
    grab_screen(dialog, Path(f"{stem}-preview-mobile.png"))
    dialog.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("output", nargs="?", default=DEFAULT_OUTPUT, type=Path)
    parser.add_argument("--template", default="Newsletter")
    parser.add_argument("--library", action="store_true", help="also save the template library")
    parser.add_argument("--preview", action="store_true", help="also open the preview and save it")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--select", type=int, default=2, help="select the Nth block on the canvas (0: none)")
    args = parser.parse_args(argv)
    if args.preview:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")

    app = create_application()
    with tempfile.TemporaryDirectory(prefix="postroom-editor-shot-") as folder:
        session = open_session(app, parse_global(["--data-dir", folder]), lambda: load_specs(MODULES)[0])
        if session is None:
            print("another Postroom owns the folder", file=sys.stderr)
            return 1
        try:
            session.theme.set_mode(args.theme)
            seed_contacts(session.kernel)
            window = session.window
            window.resize(1400, 880)
            window.move(0, 0)
            window.show()
            window.show_page("editor")
            page = window.page_widget("editor")
            library = page.library
            wait_for(app, lambda: library.loaded and len(library.model.pictures) == len(library.model.templates))
            settle(app, 0.5)
            stem = args.output.with_suffix("")
            if args.library:
                window.grab().save(f"{stem}-library.png")
                print(f"saved {stem}-library.png")
            info = next(i for i in library.model.templates if i.name.lower() == args.template.lower())
            page.open_template(info.id)
            wait_for(app, lambda: page.in_designer)
            designer = page.designer
            if args.select:
                blocks = list(designer.document.blocks())
                designer.canvas.select("block", blocks[min(args.select, len(blocks)) - 1].id)
            settle(app, 1.2)
            args.output.parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(args.output))
            print(f"saved {args.output}")
            if args.preview:
                shoot_preview(app, designer, stem)
            QTimer.singleShot(0, app.quit)
            window.close()
        finally:
            session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
