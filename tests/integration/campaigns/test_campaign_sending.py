"""Campaigns sent for real through the built-in outbox: now, at a time, in each recipient's time zone, A/B tests
with the winner to the rest, resends to non-openers, and sends missed while the app was closed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import update

from app.kernel.database import utcnow
from app.modules.campaigns import api
from app.modules.campaigns.messages import (
    CampaignError,
    CampaignRunStarted,
    ConfirmMissedSend,
    DuplicateCampaign,
    PickWinner,
    RunSchedules,
    ScheduleCampaign,
    SendCampaign,
    SetAbTest,
    SetResend,
    Variant,
)
from app.modules.campaigns.models import Campaign
from app.modules.delivery import api as delivery_api
from app.modules.stats.models import TrackingEvent
from tests.conftest import MemoryKeyring
from tests.integration.campaigns.campaign_world import (
    add_people,
    boot,
    campaign,
    outbox_by_recipient,
    template,
    wait_campaign_runs,
    wait_for,
)

PEOPLE = [("ann@example.com", "Ann", "Europe/Paris"), ("bob@example.com", "Bob", "America/New_York"),
          ("cyd@example.com", "Cyd", ""), ("dee@example.com", "Dee", "Not/AZone")]


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    kernel = boot(tmp_path / "data", MemoryKeyring())
    yield kernel
    kernel.close()


def test_send_now_reaches_everyone_once_with_utm_on_links(world) -> None:  # type: ignore[no-untyped-def]
    list_id = add_people(world, PEOPLE)
    campaign_id = campaign(world, list_id, template(world), utm=(("utm_source", "newsletter"),
                                                                ("utm_medium", "email"), ("utm_campaign", "")))
    started: list[CampaignRunStarted] = []
    world.bus.subscribe(CampaignRunStarted, started.append)
    runs = world.bus.execute(SendCampaign(campaign_id=campaign_id))
    assert len(runs) == 1
    assert [e.run_id for e in started] == list(runs)
    info = wait_campaign_runs(world, campaign_id)
    wait_for(lambda: api.get_campaign(world.db, campaign_id).state == "sent", what="state sent")
    received = outbox_by_recipient(world)
    assert sorted(received) == sorted(p[0] for p in PEOPLE)
    assert all(len(messages) == 1 for messages in received.values())
    detail = delivery_api.get_outbox_message(world.db, received["ann@example.com"][0].id)
    assert detail.subject == "Spring sale for Ann"
    # Links carry UTM parameters (through the click redirect, the registered link is the tagged one).
    from app.modules.stats.models import TrackedLink

    with world.db.read() as session:
        urls = [link.url for link in session.query(TrackedLink).filter_by(run_id=info.run_ids[0])]
    assert any("utm_source=newsletter" in u and "utm_campaign=Spring+sale" in u for u in urls), urls
    # Sending again is refused: a sent campaign is duplicated to be sent again.
    with pytest.raises(CampaignError, match="duplicate"):
        world.bus.execute(SendCampaign(campaign_id=campaign_id))
    copy_id = world.bus.execute(DuplicateCampaign(campaign_id=campaign_id))
    copy = api.get_campaign(world.db, copy_id)
    assert copy.name == "Spring sale (copy)"
    assert copy.state == "draft"
    assert not copy.run_ids


def test_a_campaign_without_template_or_audience_says_why(world) -> None:  # type: ignore[no-untyped-def]
    list_id = add_people(world, PEOPLE[:1])
    campaign_id = campaign(world, list_id, template(world))
    from app.modules.campaigns.messages import CampaignAudience, SaveCampaign

    world.bus.execute(SaveCampaign(campaign_id=campaign_id, name="Spring sale", audience=CampaignAudience(),
                                   template_id=None, subject="Hi"))
    with pytest.raises(CampaignError, match="no template"):
        world.bus.execute(SendCampaign(campaign_id=campaign_id))
    info = api.get_campaign(world.db, campaign_id)
    assert info.state == "draft"
    assert "no template" in info.state_reason
    assert not info.sends


def test_scheduled_at_a_time_in_a_zone_waits_then_sends(world) -> None:  # type: ignore[no-untyped-def]
    list_id = add_people(world, PEOPLE[:2])
    campaign_id = campaign(world, list_id, template(world))
    local = (utcnow() + dt.timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    due = world.bus.execute(ScheduleCampaign(campaign_id=campaign_id, kind="at", at=local,
                                             time_zone="Asia/Tokyo"))
    assert due == local - dt.timedelta(hours=9)  # Tokyo is UTC+9, no DST
    info = api.get_campaign(world.db, campaign_id)
    assert info.state == "scheduled"
    assert api.upcoming(info, utcnow()) == [due]
    assert world.bus.execute(RunSchedules(now=due - dt.timedelta(minutes=1))) == 0
    assert outbox_by_recipient(world) == {}
    assert world.bus.execute(RunSchedules(now=due)) == 1
    assert world.bus.execute(RunSchedules(now=due + dt.timedelta(minutes=5))) == 0  # never twice
    wait_campaign_runs(world, campaign_id)
    assert sorted(outbox_by_recipient(world)) == ["ann@example.com", "bob@example.com"]


def test_local_hour_in_each_recipients_zone(world) -> None:  # type: ignore[no-untyped-def]
    list_id = add_people(world, PEOPLE)
    campaign_id = campaign(world, list_id, template(world))
    day = (utcnow() + dt.timedelta(days=3)).date()
    first = world.bus.execute(ScheduleCampaign(campaign_id=campaign_id, kind="local",
                                               at=dt.datetime.combine(day, dt.time(9, 0)),
                                               default_time_zone="Europe/London"))
    paris = dt.datetime.combine(day, dt.time(9, 0), tzinfo=__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert first == paris.astimezone(dt.UTC).replace(tzinfo=None)  # Paris is the earliest 9:00 of the three
    world.bus.execute(RunSchedules(now=first))
    wait_campaign_runs(world, campaign_id)
    assert sorted(outbox_by_recipient(world)) == ["ann@example.com"]
    wait_for(lambda: api.get_campaign(world.db, campaign_id).state == "scheduled", what="scheduled again")
    info = api.get_campaign(world.db, campaign_id)
    assert info.next_run_at is not None
    # London 9:00 covers the contacts without a zone and the one with a zone that does not exist.
    london = info.next_run_at
    world.bus.execute(RunSchedules(now=london))
    wait_for(lambda: len(outbox_by_recipient(world)) == 3, what="London group")
    assert sorted(outbox_by_recipient(world)) == ["ann@example.com", "cyd@example.com", "dee@example.com"]
    new_york = api.get_campaign(world.db, campaign_id).next_run_at
    assert new_york - london == dt.timedelta(hours=5)
    world.bus.execute(RunSchedules(now=new_york))
    wait_for(lambda: len(outbox_by_recipient(world)) == 4, what="New York group")
    wait_campaign_runs(world, campaign_id)
    wait_for(lambda: api.get_campaign(world.db, campaign_id).state == "sent", what="sent")
    assert all(len(m) == 1 for m in outbox_by_recipient(world).values())


def _opens(world, run_id: int, contact_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    with world.db.transaction() as session:
        for contact_id in contact_ids:
            session.add(TrackingEvent(uid=f"o-{run_id}-{contact_id}", kind="open", run_id=run_id,
                                      contact_id=contact_id, occurred_at=utcnow()))


def test_ab_test_sends_groups_then_the_winner_to_the_rest(world) -> None:  # type: ignore[no-untyped-def]
    people = [(f"p{i:03d}@example.com", f"P{i}", "") for i in range(200)]
    list_id = add_people(world, people)
    campaign_id = campaign(world, list_id, template(world), subject="Plain subject")
    world.bus.execute(SetAbTest(campaign_id=campaign_id, test_share=40, metric="opens", wait_hours=4,
                                variants=(Variant(key="A", subject="Subject A"), Variant(key="B", subject="B!"))))
    runs = world.bus.execute(SendCampaign(campaign_id=campaign_id))
    assert len(runs) == 2
    info = wait_campaign_runs(world, campaign_id)
    by_variant = {s.variant: s.run_id for s in info.sends}
    sent_a = delivery_api.sent_contact_ids(world.db, [by_variant["A"]])
    sent_b = delivery_api.sent_contact_ids(world.db, [by_variant["B"]])
    assert not set(sent_a) & set(sent_b)
    assert 50 <= len(sent_a) + len(sent_b) <= 110  # about 40% of 200
    assert api.get_campaign(world.db, campaign_id).state == "sending"  # waiting for the winner
    # B gets far more opens.
    _opens(world, by_variant["A"], sent_a[:2])
    _opens(world, by_variant["B"], sent_b[: len(sent_b) // 2])
    assert world.bus.execute(RunSchedules(now=utcnow() + dt.timedelta(hours=1))) == 0  # still waiting
    world.bus.execute(RunSchedules(now=utcnow() + dt.timedelta(hours=5)))
    info = api.get_campaign(world.db, campaign_id)
    assert info.ab["winner"] == "B"
    assert info.ab["p_value"] < 0.001
    assert info.ab["probability_best"]["B"] > 0.99
    info = wait_campaign_runs(world, campaign_id)
    winner_run = next(s.run_id for s in info.sends if s.variant == "winner")
    rest = delivery_api.sent_contact_ids(world.db, [winner_run])
    assert len(sent_a) + len(sent_b) + len(rest) == 200
    assert not set(rest) & (set(sent_a) | set(sent_b))
    subjects = {m.subject for m in delivery_api.list_outbox(world.db, limit=1000)}
    assert subjects == {"Subject A", "B!"}
    assert world.bus.execute(PickWinner(campaign_id=campaign_id)) == "B"  # decided once


def test_resend_to_non_openers_with_a_new_subject(world) -> None:  # type: ignore[no-untyped-def]
    list_id = add_people(world, PEOPLE)
    campaign_id = campaign(world, list_id, template(world))
    world.bus.execute(SetResend(campaign_id=campaign_id, after_hours=48, subject="In case you missed it"))
    world.bus.execute(SendCampaign(campaign_id=campaign_id))
    info = wait_campaign_runs(world, campaign_id)
    sent = delivery_api.sent_contact_ids(world.db, list(info.run_ids))
    _opens(world, info.run_ids[0], sent[:2])
    assert world.bus.execute(RunSchedules(now=utcnow() + dt.timedelta(hours=47))) == 0
    assert world.bus.execute(RunSchedules(now=utcnow() + dt.timedelta(hours=49))) == 1
    wait_campaign_runs(world, campaign_id)
    resent = [m for m in delivery_api.list_outbox(world.db, limit=100) if m.subject == "In case you missed it"]
    assert len(resent) == 2
    assert world.bus.execute(RunSchedules(now=utcnow() + dt.timedelta(hours=100))) == 0


def test_a_send_due_while_the_app_was_closed_waits_for_the_user(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    kernel = boot(tmp_path / "data", keyring)
    list_id = add_people(kernel, PEOPLE[:2])
    campaign_id = campaign(kernel, list_id, template(kernel))
    kernel.bus.execute(ScheduleCampaign(campaign_id=campaign_id, kind="recurring", rrule="FREQ=DAILY",
                                        at=(utcnow() + dt.timedelta(hours=1)).replace(microsecond=0)))
    kernel.close()
    # Two hours later the app starts again: the due time has passed.
    with_past = boot(tmp_path / "data", keyring)
    with with_past.db.transaction() as session:
        session.execute(update(Campaign).values(next_run_at=utcnow() - dt.timedelta(hours=1)))
    with_past.close()
    app = boot(tmp_path / "data", keyring, services=True)
    try:
        info = api.get_campaign(app.db, campaign_id)
        assert info.missed_at is not None
        assert "closed" in info.state_reason
        assert app.bus.execute(RunSchedules()) == 0  # not sent by itself
        assert outbox_by_recipient(app) == {}
        app.bus.execute(ConfirmMissedSend(campaign_id=campaign_id, send=False))
        info = api.get_campaign(app.db, campaign_id)
        assert info.state == "scheduled"
        assert info.next_run_at > utcnow()
        assert info.missed_at is None
        assert outbox_by_recipient(app) == {}
    finally:
        app.close()


def test_a_campaign_through_two_accounts_reaches_everyone_once(world) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.delivery.conftest import add_account
    from tests.integration.delivery.servers import ScriptedSmtpServer

    people = [(f"r{i:02d}@example.com", f"R{i}", "") for i in range(40)]
    list_id = add_people(world, people)
    with ScriptedSmtpServer() as first, ScriptedSmtpServer() as second:
        accounts = (add_account(world, first.port, weight=3), add_account(world, second.port, weight=1))
        campaign_id = campaign(world, list_id, template(world), account_ids=accounts)
        world.bus.execute(SendCampaign(campaign_id=campaign_id))
        wait_campaign_runs(world, campaign_id)
        got = [d.rcpt_to for d in first.delivered] + [d.rcpt_to for d in second.delivered]
    assert sorted(got) == sorted(p[0] for p in people)  # everyone, once, across the two servers
    assert len(first.delivered) > len(second.delivered) > 0
