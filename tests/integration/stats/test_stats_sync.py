"""Sync between the app and a second endpoint (its own SQLite file, on 127.0.0.1), over real HTTP."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.kernel.boot import Kernel
from app.kernel.database import Database
from app.modules.stats import store
from app.modules.stats.api import TrackingLinks, register_links, store_webviews
from app.modules.stats.keystore import SYNC_SECRET, TrackingSecrets
from app.modules.stats.messages import SyncTracker
from app.modules.stats.sync import SyncError, check_remote_url
from app.modules.stats.tracker.server import EmbeddedTracker, make_core
from app.modules.stats.tracker.standalone import open_database
from tests.conftest import MemoryKeyring
from tests.integration.stats.conftest import add_contacts, http, one_click, start_app, subscriptions, wait_until

HOUR_AGO = time.time() - 3600


class RemoteEndpoint:
    """`postroom-tracker` as it runs on a server: its own database, no app modules, restartable on its port."""

    def __init__(self, folder: Path, database_url: str = "") -> None:
        self.file = folder / "remote.sqlite3"
        self.database_url = database_url or f"sqlite:///{self.file}"
        self.port = 0
        self.db: Database | None = None
        self.tracker: EmbeddedTracker | None = None

    def start(self) -> str:
        self.db = open_database(self.database_url)
        self.tracker = EmbeddedTracker(make_core(self.db), port=self.port)
        self.port = self.tracker.start()
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.tracker is not None:
            self.tracker.stop()
            self.tracker = None
        if self.db is not None:
            self.db.dispose()
            self.db = None

    def events(self) -> int:
        db = self.db or open_database(self.database_url)
        try:
            return len(store.events_after(db, 0, 100_000))
        finally:
            if db is not self.db:
                db.dispose()


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[RemoteEndpoint]:
    endpoint = RemoteEndpoint(tmp_path)
    endpoint.start()
    yield endpoint
    endpoint.stop()


def connect(kernel: Kernel, remote: RemoteEndpoint) -> None:
    assert remote.db is not None
    _info, token = store.new_access_token(remote.db, "sync", "the app")
    TrackingSecrets(kernel.secrets, kernel.paths.data_dir).set(SYNC_SECRET, token)
    kernel.settings.set("stats.remote_url", remote.url)
    kernel.settings.set("stats.public_url", remote.url)  # emails now point at the server


def local_events(kernel: Kernel) -> int:
    return len(store.events_after(kernel.db, 0, 100_000))


def test_the_app_pushes_what_the_endpoint_needs_and_pulls_each_event_once(
        kernel: Kernel, remote: RemoteEndpoint) -> None:
    [ann] = add_contacts(kernel, ["ann@example.com"], "News", "Offers")
    from app.modules.contacts.messages import ListsChanged

    kernel.bus.publish(ListsChanged())
    ids = register_links(kernel.db, 4, ["https://shop.example.com/tea"])
    store_webviews(kernel.db, 4, [(ann, "<html><body>Hello Ann</body></html>")])
    _info, intake = store.new_access_token(kernel.db, "events", "shop")
    connect(kernel, remote)
    report = kernel.bus.execute(SyncTracker())
    assert report.error == ""
    assert report.pushed == {"keys": 1, "lists": 2, "links": 1, "webviews": 1}

    links = TrackingLinks.for_kernel(kernel)
    assert links.base_url == remote.url
    assert http("GET", links.open_pixel_url(4, ann, HOUR_AGO)).status == 200
    click = http("GET", links.click_url(4, ann, ids["https://shop.example.com/tea"], HOUR_AGO))
    assert (click.status, click.headers["location"]) == (302, "https://shop.example.com/tea")
    assert http("GET", links.webview_url(4, ann)).text == "<html><body>Hello Ann</body></html>"
    assert "Offers" in http("GET", links.preferences_url(4, ann)).text
    shop = http("POST", f"{remote.url}/events", '{"email": "ann@example.com", "name": "order_completed"}',
                {"Authorization": f"Bearer {intake}", "Content-Type": "application/json"})
    assert shop.status == 202  # the app's intake token works on the server (only its hash travelled)
    assert one_click(links.unsubscribe_url(4, ann)).status == 200
    assert subscriptions(kernel, ann)["News"] == "subscribed"  # not yet: the event is on the server

    assert kernel.bus.execute(SyncTracker()).pulled == 5
    wait_until(lambda: subscriptions(kernel, ann) == {"News": "unsubscribed", "Offers": "unsubscribed"})
    assert kernel.bus.execute(SyncTracker()).pulled == 0
    with kernel.db.transaction() as session:  # as if the cursor had been lost: pulling again stores nothing
        store.move_cursor(session, f"pull:{remote.url}", 0)
    assert kernel.bus.execute(SyncTracker()).pulled == 0
    assert local_events(kernel) == 5
    with sqlite3.connect(remote.file) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not [t for t in tables if t.startswith("contacts_")]  # the contact list never leaves the app


def test_sync_resumes_after_the_endpoint_or_the_app_restarts(tmp_path: Path, remote: RemoteEndpoint) -> None:
    keyring = MemoryKeyring()
    app = start_app(tmp_path / "app", keyring)
    try:
        connect(app, remote)
        app.bus.execute(SyncTracker())
        links = TrackingLinks.for_kernel(app)
        for contact in range(1, 4):
            http("GET", links.open_pixel_url(4, contact, HOUR_AGO))
        assert app.bus.execute(SyncTracker()).pulled == 3
        remote.stop()
        assert "cannot reach" in app.bus.execute(SyncTracker()).error
        remote.start()  # same port, same database
        for contact in range(4, 6):
            http("GET", links.open_pixel_url(4, contact, HOUR_AGO))
    finally:
        app.close()
    http("GET", links.open_pixel_url(4, 6, HOUR_AGO))  # while the app is closed
    app = start_app(tmp_path / "app", keyring)  # syncs at start, then on its timer
    try:
        wait_until(lambda: local_events(app) == 6)
        assert app.bus.execute(SyncTracker()).pulled == 0
        assert local_events(app) == remote.events() == 6
    finally:
        app.close()


def test_sync_problems_are_said_plainly(kernel: Kernel, remote: RemoteEndpoint) -> None:
    kernel.settings.set("stats.remote_url", remote.url)
    assert "no remote endpoint is set up" in kernel.bus.execute(SyncTracker()).error
    TrackingSecrets(kernel.secrets, kernel.paths.data_dir).set(SYNC_SECRET, "prs_not-the-token")
    error = kernel.bus.execute(SyncTracker()).error
    assert "answered 401" in error
    assert "not valid for sync" in error
    with pytest.raises(SyncError, match="https"):
        check_remote_url("http://tracker.example.com")
    assert check_remote_url("https://tracker.example.com/") == "https://tracker.example.com"
    assert MemoryKeyring  # the fixture's keyring holds the token, never a file
    assert not (kernel.paths.data_dir / "tracking-secrets.json").exists()


def test_a_standalone_endpoint_on_postgresql(tmp_path: Path, postgres_url: str, kernel: Kernel) -> None:
    remote = RemoteEndpoint(tmp_path, postgres_url)
    remote.start()
    try:
        [ann] = add_contacts(kernel, ["ann@example.com"], "News")
        ids = register_links(kernel.db, 4, ["https://shop.example.com/tea"])
        store_webviews(kernel.db, 4, [(ann, "<p>Hello Ann</p>")])
        connect(kernel, remote)
        assert kernel.bus.execute(SyncTracker()).pushed["links"] == 1
        links = TrackingLinks.for_kernel(kernel)
        assert http("GET", links.open_pixel_url(4, ann, HOUR_AGO)).status == 200
        assert http("GET", links.click_url(4, ann, ids["https://shop.example.com/tea"], HOUR_AGO)).status == 302
        assert http("GET", links.webview_url(4, ann)).text == "<p>Hello Ann</p>"
        assert one_click(links.unsubscribe_url(4, ann)).status == 200
        assert kernel.bus.execute(SyncTracker()).pulled == 4
        assert kernel.bus.execute(SyncTracker()).pulled == 0
        wait_until(lambda: subscriptions(kernel, ann) == {"News": "unsubscribed"})
        assert remote.events() == 4
    finally:
        remote.stop()
