"""Open the real Postroom window on a throwaway data folder with sample automations and save PNGs of the Automations
page and of the workflow designer.

Usage: python tools/automation_screenshot.py [OUTPUT-PREFIX] [--theme light|dark]
Writes OUTPUT-PREFIX-list.png and OUTPUT-PREFIX-designer.png. Run it under Xvfb, e.g.:
  QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python tools/automation_screenshot.py /tmp/auto
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from app.cli import builtin_modules, parse_global
from app.ui.application import create_application, open_session

HTML = ('<html><body><h1>Welcome, {{ contact.first_name | default("friend") }}</h1><p>Glad to have you.</p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ sender.postal_address }}</p></body></html>')


def wait_for(app: QApplication, condition: Callable[[], Any], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def seed(kernel: Any) -> None:
    from app.modules.campaigns.automation_graph import Graph
    from app.modules.campaigns.messages import RunAutomations, SaveAutomation, SetAutomationState
    from app.modules.contacts import store
    from app.modules.contacts.addresses import email_hash, parse_address
    from app.modules.contacts.messages import ChangeContact
    from app.modules.contacts.models import Contact
    from app.modules.editor.messages import ImportHtmlTemplate

    bus = kernel.bus
    welcome = bus.execute(ImportHtmlTemplate(name="Welcome aboard", html=HTML)).template_id
    reminder = bus.execute(ImportHtmlTemplate(name="Getting started", html=HTML)).template_id
    with kernel.db.transaction() as session:
        news = store.get_or_create_list(session, "Newsletter").id
        ids = []
        for i, name in enumerate(("Ann", "Bob", "Chloé", "Dev", "Eve", "Femi", "Gus", "Hana", "Ivo", "Jun")):
            address = parse_address(f"{name.lower().replace('é', 'e')}{i}@example.com")
            contact = Contact(email=address.email, email_key=address.key, email_hash=email_hash(address.key),
                              first_name=name)
            session.add(contact)
            session.flush()
            ids.append(contact.id)
    g = Graph()
    g.add_node("trigger", 0, 0, {"type": "list_joined", "list_id": news}, node_id="trigger")
    g.add_node("send_email", 0, 140, {"template_id": welcome, "subject": "Welcome, {{ contact.first_name }}"},
               node_id="welcome")
    g.add_node("wait", 0, 280, {"mode": "duration", "amount": 3, "unit": "days"}, node_id="wait")
    g.add_node("branch", 0, 420, {"condition": "engagement", "what": "opened", "step_id": "welcome", "days": 7},
               node_id="opened")
    g.add_node("add_tag", -180, 580, {"tag": "engaged"}, node_id="engaged")
    g.add_node("send_email", 180, 580, {"template_id": reminder, "subject": "Three tips to get started"},
               node_id="tips")
    g.add_node("exit", 180, 720, {}, node_id="exit")
    for a, b in (("trigger", "welcome"), ("welcome", "wait"), ("wait", "opened"), ("tips", "exit")):
        g.connect(a, b)
    g.connect("opened", "engaged", "yes")
    g.connect("opened", "tips", "no")
    first = bus.execute(SaveAutomation(name="Welcome series", graph=g.to_json()))
    bus.execute(SetAutomationState(automation_id=first, state="active"))
    birthday = Graph()
    birthday.add_node("trigger", 0, 0, {"type": "anniversary", "field": "birthday", "hour": 9,
                                        "time_zone": "Europe/Paris"}, node_id="t")
    birthday.add_node("send_email", 0, 140, {"template_id": welcome, "subject": "Happy birthday!"}, node_id="m")
    birthday.connect("t", "m")
    bus.execute(SaveAutomation(name="Birthday wishes", graph=birthday.to_json(), reentry="again", reentry_days=300))
    cart = Graph()
    cart.add_node("trigger", 0, 0, {"type": "event", "name": "cart_abandoned", "filters": ["value > 50"]},
                  node_id="t")
    cart.add_node("wait", 0, 140, {"mode": "duration", "amount": 4, "unit": "hours"}, node_id="w")
    cart.connect("t", "w")
    third = bus.execute(SaveAutomation(name="Abandoned cart", graph=cart.to_json()))
    bus.execute(SetAutomationState(automation_id=third, state="active"))
    bus.execute(SetAutomationState(automation_id=third, state="paused"))
    for contact_id in ids:
        bus.execute(ChangeContact(contact_id=contact_id, join_lists=(news,)))
    bus.execute(RunAutomations())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("output", nargs="?", default=str(Path(tempfile.gettempdir()) / "postroom-automations"))
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    args = parser.parse_args(argv)
    app = create_application()
    with tempfile.TemporaryDirectory(prefix="postroom-auto-") as folder:
        session = open_session(app, parse_global(["--data-dir", folder]), builtin_modules)
        if session is None:
            return 1
        try:
            seed(session.kernel)
            session.theme.set_mode(args.theme)
            window = session.window
            window.resize(1440, 880)
            window.show()
            window.show_page("automations")
            page: Any = window.page_widget("automations")
            if page is None or not wait_for(app, lambda: page.loaded and page.table.rowCount() == 3):
                print("the Automations page did not load", file=sys.stderr)
                return 2
            page.table.selectRow(page.table.rowCount() - 1)
            wait_for(app, lambda: False, 1.0)
            window.grab().save(f"{args.output}-list.png")
            page.open_selected()
            designer = page.designer
            wait_for(app, lambda: False, 0.6)
            node = designer.scene.nodes.get("opened")
            if node is not None:
                node.setSelected(True)
            wait_for(app, lambda: False, 0.6)
            window.grab().save(f"{args.output}-designer.png")
            print(f"saved {args.output}-list.png and {args.output}-designer.png")
        finally:
            session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
