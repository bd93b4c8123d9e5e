"""The endpoint inside the app, over real HTTP on 127.0.0.1: opens, clicks, tokens, unsubscribe, preferences,
confirmation, web view, limits."""

from __future__ import annotations

import time

from app.kernel.boot import Kernel
from app.modules.contacts.messages import ContactUnsubscribed
from app.modules.stats import store
from app.modules.stats.api import TrackingLinks, register_links, store_webviews
from app.modules.stats.messages import GetTrackingLinks, RotateTrackingKey
from tests.integration.stats.conftest import (
    add_contacts,
    http,
    one_click,
    path_of,
    subscriptions,
    wait_until,
)
from tests.unit.stats.test_stats_tokens import mutations

HOUR_AGO = time.time() - 3600


def events(kernel: Kernel) -> list[store.StoredEvent]:
    return store.events_after(kernel.db, 0, 10_000)


def test_the_open_pixel_is_a_fresh_gif_and_records_who_and_how(kernel: Kernel, links: TrackingLinks) -> None:
    reply = http("GET", links.open_pixel_url(4, 7, HOUR_AGO), headers={"X-Forwarded-For": "198.51.100.23"})
    assert reply.status == 200
    assert reply.headers["content-type"] == "image/gif"
    assert reply.body.startswith(b"GIF89a")
    assert "no-store" in reply.headers["cache-control"]
    assert "set-cookie" not in reply.headers
    [event] = events(kernel)
    assert (event.kind, event.run_id, event.contact_id, event.machine) == ("open", 4, 7, False)
    assert event.user_agent.startswith("Mozilla/5.0 (X11")
    assert event.ip_class == "198.51.100.0/24"  # a class, never the address (the app trusts its own proxy)


def test_machines_are_recorded_but_flagged(kernel: Kernel, links: TrackingLinks) -> None:
    http("HEAD", links.open_pixel_url(4, 1, HOUR_AGO))
    http("GET", links.open_pixel_url(4, 2, HOUR_AGO), headers={"User-Agent": "Mozilla/5.0 (compatible; Mimecast)"})
    http("GET", links.open_pixel_url(4, 3, time.time()))  # fetched the moment it was sent
    http("GET", links.open_pixel_url(4, 4, HOUR_AGO), headers={"User-Agent": "Mozilla/5.0"})
    reasons = {e.contact_id: e.machine_reason for e in events(kernel)}
    assert reasons == {1: "head", 2: "scanner", 3: "prefetch", 4: "apple-mpp"}
    assert all(e.machine for e in events(kernel))


def test_clicks_redirect_only_to_links_registered_for_that_run(kernel: Kernel, links: TrackingLinks) -> None:
    ids = register_links(kernel.db, 4, ["https://shop.example.com/sale?a=1&b=ü"])
    other = register_links(kernel.db, 5, ["https://elsewhere.example.com/"])
    assert register_links(kernel.db, 4, ["https://shop.example.com/sale?a=1&b=ü"]) == ids  # idempotent
    link_id = ids["https://shop.example.com/sale?a=1&b=ü"]
    reply = http("GET", links.click_url(4, 7, link_id, HOUR_AGO) + "?url=https://evil.example.com/")
    assert reply.status == 302
    assert reply.headers["location"] == "https://shop.example.com/sale?a=1&b=%C3%BC"
    # A link of another run, a link that does not exist, a forged token: no redirect at all.
    assert http("GET", links.click_url(4, 7, other["https://elsewhere.example.com/"])).status == 404
    assert http("GET", links.click_url(4, 7, 999_999)).status == 404
    assert http("GET", links.click_url(4, 7, link_id)[:-3] + "AAA").status == 404
    assert [(e.kind, e.link_id) for e in events(kernel)] == [("click", link_id)]


def test_forged_and_cross_purpose_tokens_get_404_and_record_nothing(kernel: Kernel, links: TrackingLinks) -> None:
    register_links(kernel.db, 4, ["https://shop.example.com/"])
    url = links.unsubscribe_url(4, 7)
    token = url.rsplit("/", 1)[1]
    tried = sorted(m for m in mutations(token) if "/" not in m and "?" not in m and "#" not in m
                   and m.isprintable() and " " not in m)[::7]
    assert len(tried) > 250
    for forged in tried:
        assert http("POST", f"{links.base_url}/u/{forged}", "List-Unsubscribe=One-Click",
                    {"Content-Type": "application/x-www-form-urlencoded"}).status == 404, forged
    made = {"o": links.open_pixel_url(4, 7), "c": links.click_url(4, 7, 1), "u": links.unsubscribe_url(4, 7),
            "p": links.preferences_url(4, 7), "confirm": links.confirm_url(7, 1), "v": links.webview_url(4, 7)}
    for route, source in made.items():
        token = source.rsplit("/", 1)[1].removesuffix(".gif")
        for other in made:
            if other != route:
                method = "POST" if other in ("u", "p", "confirm") else "GET"
                reply = http(method, f"{links.base_url}/{other}/{token}", "List-Unsubscribe=One-Click",
                             {"Content-Type": "application/x-www-form-urlencoded"})
                assert reply.status == 404, (route, other)
    assert events(kernel) == []


def test_get_and_head_never_unsubscribe_and_one_click_post_does(kernel: Kernel, links: TrackingLinks) -> None:
    [ann, bob] = add_contacts(kernel, ["ann@example.com", "bob@example.com"], "News", "Offers")
    unsubscribed: list[ContactUnsubscribed] = []
    kernel.bus.subscribe(ContactUnsubscribed, unsubscribed.append)
    page = http("GET", links.unsubscribe_url(9, ann))
    assert page.status == 200
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert http("HEAD", links.unsubscribe_url(9, ann)).status == 200
    no_button = http("POST", links.unsubscribe_url(9, ann), "something=else",
                     {"Content-Type": "application/x-www-form-urlencoded"})
    assert no_button.status == 400
    assert events(kernel) == []
    assert subscriptions(kernel, ann) == {"News": "subscribed", "Offers": "subscribed"}

    reply = one_click(links.unsubscribe_url(9, ann))  # RFC 8058: 200, no redirect, no cookies needed
    assert reply.status == 200
    assert "location" not in reply.headers
    assert "set-cookie" not in reply.headers
    boundary = "----postroom-test"
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
                 f"One-Click\r\n--{boundary}--\r\n")
    reply = http("POST", links.unsubscribe_url(9, bob), multipart,
                 {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert reply.status == 200
    assert "location" not in reply.headers
    # Unsubscribes cannot wait for the next round: the endpoint wakes the ingest at once.
    wait_until(lambda: len(unsubscribed) == 2)
    assert subscriptions(kernel, ann) == {"News": "unsubscribed", "Offers": "unsubscribed"}
    assert subscriptions(kernel, bob) == {"News": "unsubscribed", "Offers": "unsubscribed"}


def test_the_preference_page_leaves_the_lists_unticked(kernel: Kernel, links: TrackingLinks) -> None:
    [ann] = add_contacts(kernel, ["ann@example.com"], "News", "Offers", "Events")
    from app.modules.contacts.messages import ListsChanged

    kernel.bus.publish(ListsChanged())  # lists created outside a command: tell the page's list names
    page = http("GET", links.preferences_url(9, ann))
    assert page.status == 200
    assert "News" in page.text
    assert "Offers" in page.text
    ids = dict(reversed(pair) for pair in store_list_ids(kernel))
    keep = f"keep={ids['News']}&action=save"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    reply = http("POST", links.preferences_url(9, ann), keep, form)
    assert reply.status == 200
    assert "Offers" in reply.text
    assert "Events" in reply.text
    wait_until(lambda: subscriptions(kernel, ann) == {"News": "subscribed", "Offers": "unsubscribed",
                                                      "Events": "unsubscribed"})
    http("POST", links.preferences_url(9, ann), "action=leave-all",
         {"Content-Type": "application/x-www-form-urlencoded"})
    wait_until(lambda: subscriptions(kernel, ann)["News"] == "unsubscribed")


def store_list_ids(kernel: Kernel) -> list[tuple[int, str]]:
    from app.modules.stats.published import list_names

    return list_names(kernel.db)


def test_the_confirmation_link_confirms_only_on_the_button(kernel: Kernel, links: TrackingLinks) -> None:
    [ann] = add_contacts(kernel, ["ann@example.com"], "News", status="unconfirmed")
    from app.modules.contacts.models import MailingList

    with kernel.db.read() as session:
        news = session.query(MailingList.id).filter_by(name="News").scalar()
    url = links.confirm_url(ann, news)
    assert http("GET", url).status == 200
    assert http("HEAD", url).status == 200
    assert subscriptions(kernel, ann) == {"News": "unconfirmed"}
    assert http("POST", url, "").status == 200
    wait_until(lambda: subscriptions(kernel, ann) == {"News": "subscribed"})
    from sqlalchemy import select

    from app.modules.contacts.models import Consent

    with kernel.db.read() as session:
        consent = session.execute(select(Consent.method, Consent.evidence).where(Consent.contact_id == ann)).one()
    assert consent.method == "double-opt-in"
    assert "confirmation link pressed" in consent.evidence


def test_the_web_view_is_the_html_that_recipient_received(kernel: Kernel, links: TrackingLinks) -> None:
    first = "<html><body><p>Hello Ann</p>" + "<p>Same newsletter body.</p>" * 200 + "</body></html>"
    second = first.replace("Ann", "Bob <b>&amp;</b> ü")
    store_webviews(kernel.db, 4, [(7, first), (8, second)])
    store_webviews(kernel.db, 4, [(7, "<p>a second store keeps the first</p>")])
    reply = http("GET", links.webview_url(4, 8))
    assert reply.status == 200
    assert reply.text == second
    assert "script-src" not in reply.headers["content-security-policy"]  # default-src 'none': no script runs
    assert http("GET", links.webview_url(4, 7)).text == first
    assert http("GET", links.webview_url(4, 9)).status == 404
    assert [e.kind for e in events(kernel)] == ["view", "view"]
    from sqlalchemy import func, select

    from app.modules.stats.models import WebView

    with kernel.db.read() as session:
        stored = session.scalar(select(func.max(func.length(WebView.body))).where(WebView.contact_id == 8))
    assert stored < len(second.encode()) / 20  # only the differences from the run's first message


def test_old_links_keep_working_after_the_key_is_rotated(kernel: Kernel, links: TrackingLinks) -> None:
    before = links.open_pixel_url(4, 7, HOUR_AGO)
    assert kernel.bus.execute(RotateTrackingKey()) == "k2"
    after = TrackingLinks.for_kernel(kernel).open_pixel_url(4, 7, HOUR_AGO)
    assert path_of(after).startswith("/o/k2.")
    assert kernel.bus.execute(GetTrackingLinks()).ring.current_id == "k2"
    assert http("GET", after).status == 200
    assert http("GET", before).status == 200


def test_health_limits_and_unknown_paths(kernel: Kernel, links: TrackingLinks) -> None:
    health = http("GET", f"{links.base_url}/health")
    assert health.status == 200
    assert health.json()["status"] == "ok"
    big = http("POST", links.unsubscribe_url(4, 7), "x" * 100_000, {"Content-Type": "text/plain"})
    assert big.status == 413
    assert "larger than" in big.json()["error"]
    assert http("GET", f"{links.base_url}/o/" + "k" * 5000).status == 414
    assert http("GET", f"{links.base_url}/nothing-here").status == 404
    assert events(kernel) == []
