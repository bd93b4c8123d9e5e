"""Handlers of the contacts module's public commands; each is one unit of work that then publishes events."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.kernel.bus import MessageBus
from app.kernel.database import Database
from app.kernel.registry import ModuleContext
from app.modules.contacts import store
from app.modules.contacts.addresses import InvalidAddress, parse_address
from app.modules.contacts.messages import (
    ChangeContact,
    ChangeContacts,
    ConfirmSubscription,
    ContactsChanged,
    ContactSuppressed,
    ContactTagged,
    ContactUnsubscribed,
    RecordActivity,
    SubscriptionChanged,
    SuppressAddress,
    UnsubscribeContact,
)
from app.modules.contacts.models import Consent, Contact, ContactTag, Subscription, Tag


class ContactsHandlers:
    def __init__(self, db: Database, bus: MessageBus) -> None:
        self.db = db
        self.bus = bus

    def register(self, context: ModuleContext) -> None:
        context.handle(UnsubscribeContact, self.unsubscribe)
        context.handle(SuppressAddress, self.suppress)
        context.handle(ConfirmSubscription, self.confirm)
        context.handle(RecordActivity, self.record_activity)
        context.handle(ChangeContact, self.change_contact)
        context.handle(ChangeContacts, self.change_contacts)

    @staticmethod
    def _clean(email: str) -> str:
        try:
            return parse_address(email).email
        except InvalidAddress:
            # A bounce or complaint may carry an address we would not import; still suppress it as written.
            cleaned = email.replace("\x00", "").strip()
            if "@" not in cleaned:
                raise store.ContactsError(f"{email!r} is not an email address") from None
            return cleaned

    def unsubscribe(self, command: UnsubscribeContact) -> bool:
        email = self._clean(command.email)
        # Suppression leaves every list, so "everywhere" unsubscribes from all of them here, and each
        # list that changes is announced (not only the one the command named).
        scope = None if command.everywhere else command.list_id
        with self.db.transaction() as session:
            contact, changed = store.unsubscribe(session, email, scope)
            newly = False
            if command.everywhere:
                newly = store.suppress(session, email, "unsubscribed", command.source)
            contact_id = contact.id if contact else None
        if contact_id is not None:
            for list_id in changed:
                self.bus.publish(SubscriptionChanged(contact_id=contact_id, list_id=list_id, status="unsubscribed"))
            self.bus.publish(ContactsChanged(contact_ids=(contact_id,)))
        if changed or newly:
            self.bus.publish(ContactUnsubscribed(contact_id=contact_id, email=email,
                                                 list_id=None if command.everywhere else command.list_id))
        if newly:
            self.bus.publish(ContactSuppressed(email=email, reason="unsubscribed"))
        return contact_id is not None

    def suppress(self, command: SuppressAddress) -> bool:
        email = self._clean(command.email)
        with self.db.transaction() as session:
            # Unsubscribe first so the lists that change are known and announced; suppress() then finds
            # nothing left to change.
            contact, changed = store.unsubscribe(session, email, None)
            newly = store.suppress(session, email, command.reason, command.detail)
            contact_id = contact.id if contact is not None else None
        if contact_id is not None:
            for list_id in changed:
                self.bus.publish(SubscriptionChanged(contact_id=contact_id, list_id=list_id, status="unsubscribed"))
        if newly:
            self.bus.publish(ContactSuppressed(email=email, reason=command.reason))
        if newly or changed:
            self.bus.publish(ContactsChanged(contact_ids=(contact_id,) if contact_id is not None else ()))
        return newly

    def confirm(self, command: ConfirmSubscription) -> bool:
        with self.db.transaction() as session:
            sub = session.get(Subscription, (command.contact_id, command.list_id))
            if sub is None or sub.status != "unconfirmed":
                return False
            store.subscribe(session, command.contact_id, command.list_id, "subscribed")
            session.add(Consent(contact_id=command.contact_id, list_id=command.list_id, method="double-opt-in",
                                source="confirmation link", evidence=command.evidence))
        self.bus.publish(SubscriptionChanged(contact_id=command.contact_id, list_id=command.list_id,
                                             status="subscribed"))
        self.bus.publish(ContactsChanged(contact_ids=(command.contact_id,)))
        return True

    def record_activity(self, command: RecordActivity) -> int:
        with self.db.transaction() as session:
            return store.record_activity(session, command.items)

    def change_contact(self, command: ChangeContact) -> bool:
        with self.db.transaction() as session:
            contact = session.get(Contact, command.contact_id)
            if contact is None:
                raise store.ContactsError(f"no contact with id {command.contact_id}")
            outcomes = _change(session, [contact], command, strict=True)
        self._announce(outcomes)
        return bool(outcomes[command.contact_id][0])

    def change_contacts(self, command: ChangeContacts) -> tuple[int, ...]:
        outcomes: dict[int, tuple[bool, list[str], list[tuple[int, str]]]] = {}
        ids = list(dict.fromkeys(command.contact_ids))
        with self.db.transaction() as session:
            for start in range(0, len(ids), 900):  # under SQLite's bound-parameter limit
                contacts = list(session.scalars(select(Contact).where(Contact.id.in_(ids[start:start + 900]))))
                outcomes.update(_change(session, contacts, command, strict=False))
        self._announce(outcomes)
        return tuple(sorted(c for c, (changed, _t, _l) in outcomes.items() if changed))

    def _announce(self, outcomes: dict[int, tuple[bool, list[str], list[tuple[int, str]]]]) -> None:
        by_tag: dict[str, list[int]] = {}
        for contact_id, (_changed, tagged, lists) in outcomes.items():
            for list_id, status in lists:
                self.bus.publish(SubscriptionChanged(contact_id=contact_id, list_id=list_id, status=status))
            for name in tagged:
                by_tag.setdefault(name, []).append(contact_id)
        for name, ids in by_tag.items():
            self.bus.publish(ContactTagged(tag=name, contact_ids=tuple(ids)))
        changed = tuple(c for c, (done, _t, _l) in outcomes.items() if done)
        if changed:
            self.bus.publish(ContactsChanged(contact_ids=changed if len(changed) <= 1000 else ()))


Change = ChangeContact | ChangeContacts


def _change(session: Session, contacts: list[Contact], command: Change, *,
            strict: bool) -> dict[int, tuple[bool, list[str], list[tuple[int, str]]]]:
    """Contacts' tags (in bulk), fields and lists: per contact (changed, tags newly added, (list, status) pairs)."""
    tagged, untagged = _change_tags(session, [c.id for c in contacts], command)
    outcomes = {}
    for contact in contacts:
        changed = contact.id in untagged
        if command.fields:
            values = dict(contact.fields or {})
            for key, value in command.fields.items():
                if value is None:
                    values.pop(key, None)
                else:
                    values[key] = value
            if values != (contact.fields or {}):
                contact.fields = values
                changed = True
        lists = _change_lists(session, contact, command, strict=strict)
        added = tagged.get(contact.id, [])
        outcomes[contact.id] = (changed or bool(added or lists), added, lists)
    return outcomes


def _change_tags(session: Session, contact_ids: list[int], command: Change) -> tuple[dict[int, list[str]], set[int]]:
    """Tags newly added per contact, and the contacts that lost a tag: a few statements for the whole group."""
    tagged: dict[int, list[str]] = {}
    if command.add_tags and contact_ids:
        tags = store.get_or_create_tags(session, command.add_tags)
        names = {t.id: t.name for t in tags}
        had = {(c, t) for c, t in session.execute(select(ContactTag.contact_id, ContactTag.tag_id).where(
            ContactTag.contact_id.in_(contact_ids), ContactTag.tag_id.in_(list(names))))}
        rows = [{"contact_id": c, "tag_id": t} for c in contact_ids for t in names if (c, t) not in had]
        store.insert_ignoring_duplicates(session, ContactTag, rows)
        for row in rows:
            tagged.setdefault(row["contact_id"], []).append(names[row["tag_id"]])
    removed: set[int] = set()
    if command.remove_tags and contact_ids:
        wanted = [n.strip().lower() for n in command.remove_tags if n.strip()]
        tag_ids = list(session.scalars(select(Tag.id).where(func.lower(Tag.name).in_(wanted))))
        if tag_ids:
            where = (ContactTag.contact_id.in_(contact_ids), ContactTag.tag_id.in_(tag_ids))
            removed = set(session.scalars(select(ContactTag.contact_id).where(*where)))
            session.execute(delete(ContactTag).where(*where))
    return tagged, removed


def _change_lists(session: Session, contact: Contact, command: Change, *, strict: bool) -> list[tuple[int, str]]:
    changes: list[tuple[int, str]] = []
    for list_id in command.join_lists:
        try:
            joined = store.subscribe(session, contact.id, list_id, "subscribed")
        except store.ContactsError:
            if strict:
                raise
            continue  # suppressed: never subscribed again, the others still are
        if joined:
            changes.append((list_id, "subscribed"))
    for list_id in command.leave_lists:
        sub = session.get(Subscription, (contact.id, list_id))
        if sub is not None and sub.status != "unsubscribed":
            store.unsubscribe(session, contact.email, list_id)
            changes.append((list_id, "unsubscribed"))
    return changes
