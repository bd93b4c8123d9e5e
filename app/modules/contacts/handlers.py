"""Handlers of the contacts module's public commands; each is one unit of work that then publishes events."""

from __future__ import annotations

from sqlalchemy import delete, select
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
from app.modules.contacts.models import Consent, Contact, ContactTag, Subscription


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
            outcome = _change_one(session, contact, command, strict=True)
        self._announce({command.contact_id: outcome})
        return bool(outcome[0])

    def change_contacts(self, command: ChangeContacts) -> tuple[int, ...]:
        outcomes: dict[int, tuple[bool, list[str], list[tuple[int, str]]]] = {}
        with self.db.transaction() as session:
            contacts = session.scalars(select(Contact).where(Contact.id.in_(command.contact_ids))).all()
            for contact in contacts:
                outcomes[contact.id] = _change_one(session, contact, command, strict=False)
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


def _change_one(session: Session, contact: Contact, command: Change, *,
                strict: bool) -> tuple[bool, list[str], list[tuple[int, str]]]:
    """One contact's tags, fields and lists: (changed, tags newly added, (list, new status) pairs)."""
    tagged, changed = _change_tags(session, contact.id, command)
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
    return changed or bool(tagged or lists), tagged, lists


def _change_tags(session: Session, contact_id: int, command: Change) -> tuple[list[str], bool]:
    """Tags added (names that are new on the contact) and whether any tag was removed."""
    tagged: list[str] = []
    if command.add_tags:
        tags = store.get_or_create_tags(session, command.add_tags)
        had = set(session.scalars(select(ContactTag.tag_id).where(
            ContactTag.contact_id == contact_id, ContactTag.tag_id.in_([t.id for t in tags]))))
        new = [t for t in tags if t.id not in had]
        store.add_tags(session, [contact_id], [t.id for t in new])
        tagged = [t.name for t in new]
    removed = False
    if command.remove_tags:
        tags = store.get_or_create_tags(session, command.remove_tags)
        gone = session.execute(delete(ContactTag).where(
            ContactTag.contact_id == contact_id, ContactTag.tag_id.in_([t.id for t in tags])))
        removed = bool(getattr(gone, "rowcount", 0))
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
