"""One message sent right away (the editor's "Send test", ``postroom delivery send-test``), outside any run."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from app.modules.delivery import replies
from app.modules.delivery.accounts import DeliveryError
from app.modules.delivery.content import JinjaSource, RenderFailed, contact_mapping
from app.modules.delivery.messages import SendTestMessage, TestSendResult
from app.modules.delivery.mime import MessageError, Skeleton, ascii_address, dot_stuff, needs_smtputf8
from app.modules.delivery.models import Identity
from app.modules.delivery.smtp import AccountRefused, ConnectFailed, SmtpConnection

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end on a private loop in a helper thread (the caller may run a loop itself)."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="postroom-delivery-oneshot")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def send_test(service: Any, command: SendTestMessage) -> TestSendResult:
    account_id, identity_id = service._defaults(command.account_id, command.identity_id)
    config = service.worker_config().accounts.get(account_id)
    if config is None:
        raise DeliveryError("the account for test messages is switched off (or the built-in outbox is off)")
    with service.db.read() as session:
        identity = session.get(Identity, identity_id)
        sender = {"name": identity.from_name, "email": identity.from_email, "reply_to": identity.reply_to,
                  "postal_address": identity.postal_address}
        bounce = identity.bounce_address
    try:
        source = JinjaSource(command.subject, command.html, command.text)
        data = {"first_name": "", "last_name": "", **command.contact}
        contact = contact_mapping(int(command.contact.get("id", 0) or 0), command.to, data)
        parts = source.render(contact, urls={"unsubscribe_url": "#unsubscribe", "preferences_url": "#preferences",
                                             "webview_url": "#webview"}, sender=sender,
                              campaign={"id": None, "test": True})
        skeleton = Skeleton(run_id=0, nonce=secrets.token_hex(6), from_name=sender["name"],
                            from_email=sender["email"], reply_to=sender["reply_to"])
        name = f"{contact['first_name']} {contact['last_name']}".strip()
        message = skeleton.build(recipient_id=0, to_name=name, to_email=command.to,
                                 parts=parts.__class__(subject=f"[Test] {parts.subject}", html=parts.html,
                                                       text=parts.text))
        utf8 = needs_smtputf8(command.to)
        recipient = ascii_address(command.to, utf8=utf8)
    except (ValueError, RenderFailed, MessageError) as exc:
        raise DeliveryError(f"the test message cannot be built: {exc}") from None
    envelope_from = bounce or sender["email"]

    async def send() -> TestSendResult:
        connection = SmtpConnection(config)
        try:
            attempt = await connection.send(ascii_address(envelope_from), recipient, dot_stuff(message),
                                            smtputf8=utf8)
        except (AccountRefused, ConnectFailed) as exc:
            return TestSendResult(ok=False, reply=str(exc))
        finally:
            await connection.close()
        words = replies.describe(attempt.code, attempt.text)
        ok = attempt.result == "reply" and attempt.code is not None and 200 <= attempt.code < 300
        return TestSendResult(ok=ok, reply=words, message_id=skeleton.message_id(0) if ok else "")

    return run_async(send())
