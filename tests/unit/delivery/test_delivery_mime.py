"""Message bytes assembled without the email generator, read back with the email parser (policy=default)."""

from __future__ import annotations

from email import message_from_bytes, message_from_string
from email.policy import default as default_policy

import pytest

from app.modules.delivery.dkim_keys import DkimSigner, dns_record, generate_key, txt_chunks, verify
from app.modules.delivery.mime import (
    HeaderInjection,
    MessageError,
    MessageParts,
    Skeleton,
    ascii_address,
    dot_stuff,
)

HTML = "<html><body><p>Grüße, Zoë! 🎉</p>\n.dot at the start\n" + "<td>" + "x" * 3000 + "</td>\n</body></html>"
TEXT = "Grüße, Zoë!\n.dot at the start\ntrailing space \n" + "y" * 200


def skeleton(**overrides: str) -> Skeleton:
    options = {"from_name": "Café Crème & Co", "from_email": "news@exämple.com", "reply_to": "help@example.com"}
    options.update(overrides)
    return Skeleton(run_id=12, nonce="n0nce", **options)


def build(to_name: str = "Jürgen \"Jo\" Müller", subject: str = "Ein Angebot für Sie, Jürgen: 20 % auf alles "
          "— nur heute und morgen, solange der Vorrat reicht", **kwargs: str) -> bytes:
    return skeleton().build(recipient_id=345, to_name=to_name, to_email="jo@例え.jp",
                            parts=MessageParts(subject=subject, html=HTML, text=TEXT),
                            unsubscribe_url=kwargs.get("url", "https://t.example.com/u/12.345.sig"),
                            unsubscribe_mailto="mailto:unsubscribe+12-345-abcd@example.com?subject=unsubscribe")


def test_the_bytes_parse_back_to_the_same_message() -> None:
    raw = build()
    message = message_from_bytes(raw, policy=default_policy)
    assert message["From"] == "Café Crème & Co <news@xn--exmple-cua.com>"
    assert message["To"] == '"Jürgen \\"Jo\\" Müller" <jo@xn--r8jz45g.jp>'
    assert message["To"].addresses[0].display_name == 'Jürgen "Jo" Müller'
    assert message["Reply-To"] == "help@example.com"
    assert message["Subject"] == ("Ein Angebot für Sie, Jürgen: 20 % auf alles — nur heute und morgen, "
                                  "solange der Vorrat reicht")
    assert message["Message-ID"] == "<12.345.n0nce@xn--exmple-cua.com>"
    assert message["Date"].datetime is not None
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part for part in message.iter_parts())
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text["Content-Transfer-Encoding"] == html["Content-Transfer-Encoding"] == "quoted-printable"
    assert text.get_content_charset() == "utf-8"
    # The parser keeps the wire's CRLF in decoded text; the content is otherwise the same, byte for byte.
    assert text.get_content().replace("\r\n", "\n") == TEXT
    assert html.get_content().replace("\r\n", "\n") == HTML
    assert not message.defects
    assert not any(part.defects for part in message.walk())


def test_lines_are_crlf_and_short() -> None:
    raw = build()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert raw.isascii()


def test_one_click_unsubscribe_headers() -> None:
    message = message_from_bytes(build(), policy=default_policy)
    assert message["List-Unsubscribe"] == ("<https://t.example.com/u/12.345.sig>, "
                                           "<mailto:unsubscribe+12-345-abcd@example.com?subject=unsubscribe>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # RFC 8058 one-click needs HTTPS: over plain HTTP only the link is given, not the one-click promise.
    plain = message_from_bytes(build(url="http://127.0.0.1:8425/u/x"), policy=default_policy)
    assert plain["List-Unsubscribe-Post"] is None


@pytest.mark.parametrize("bad", ["Bob\r\nBcc: x@example.org", "Bob\nX", "Bob\u2028X", "Bob\u2029X", "Bob\x00",
                                 "Bob\x85X", "Bob\rX"])
def test_line_breaks_in_a_name_or_subject_fail_that_message(bad: str) -> None:
    with pytest.raises(HeaderInjection, match="line break"):
        build(to_name=bad)
    with pytest.raises(HeaderInjection, match="subject"):
        build(subject=bad)


def test_an_internationalised_address_goes_into_to_as_utf8_and_a_unicode_domain_as_idna() -> None:
    raw = skeleton().build(recipient_id=1, to_name="Jürgen", to_email="jürgen@bücher.example",
                           parts=MessageParts("s", "h", "t"))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert "<jürgen@xn--bcher-kva.example>".encode() in head  # RFC 6532: UTF-8 in the header, A-label domain
    message = message_from_string(raw.decode("utf-8"), policy=default_policy)
    assert message["to"].addresses[0].username == "jürgen"
    assert message["to"].addresses[0].display_name == "Jürgen"
    with pytest.raises(MessageError, match="SMTPUTF8"):  # the envelope refuses it unless SMTPUTF8 is used
        ascii_address("jürgen@example.com")
    assert ascii_address("ann@bücher.example") == "ann@xn--bcher-kva.example"


def test_addresses_that_cannot_be_written_are_refused() -> None:
    with pytest.raises(MessageError):
        skeleton().build(recipient_id=1, to_name="", to_email="a<b>@example.com", parts=MessageParts("s", "h", "t"))


def test_ascii_bodies_go_as_7bit_and_still_parse() -> None:
    html = "<p>Hello &amp; welcome</p>\n.leading dot\n" + "<td>x</td>" * 50
    raw = skeleton().build(recipient_id=1, to_name="Ann", to_email="ann@example.com",
                           parts=MessageParts("Hi", html, "Hello\n.leading dot\n"))
    message = message_from_bytes(raw, policy=default_policy)
    text, part = message.iter_parts()
    assert part["Content-Transfer-Encoding"] == text["Content-Transfer-Encoding"] == "7bit"
    assert part.get_content().replace("\r\n", "\n") == html
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    # A line too long for 7bit, or the boundary itself in the text, falls back to quoted-printable.
    sk = skeleton()
    long_line = sk.build(recipient_id=1, to_name="", to_email="a@example.com",
                         parts=MessageParts("s", "x" * 2000, "y"))
    tricky = sk.build(recipient_id=2, to_name="", to_email="a@example.com",
                      parts=MessageParts("s", f"--{sk.boundary}--", "y"))
    for raw in (long_line, tricky):
        parsed = message_from_bytes(raw, policy=default_policy)
        html_part = parsed.get_body(("html",))
        assert html_part["Content-Transfer-Encoding"] == "quoted-printable"
        assert len(list(parsed.iter_parts())) == 2
    assert message_from_bytes(tricky, policy=default_policy).get_body(("html",)).get_content() == \
        f"--{sk.boundary}--"


def test_message_ids_differ_per_recipient_and_run() -> None:
    one, two = skeleton(), Skeleton(run_id=13, nonce="n0nce", from_name="", from_email="news@example.com")
    assert one.message_id(1) != one.message_id(2) != two.message_id(1)


def test_dot_stuffing() -> None:
    assert dot_stuff(b"a\r\n.b\r\n..c\r\n") == b"a\r\n..b\r\n...c\r\n.\r\n"
    assert dot_stuff(b".x") == b"..x\r\n.\r\n"


def test_dkim_signature_verifies_and_covers_the_unsubscribe_headers() -> None:
    private, public = generate_key()
    record = dns_record("xn--exmple-cua.com", "pr1", public)
    assert record.name == "pr1._domainkey.xn--exmple-cua.com"
    assert all(len(chunk) <= 255 for chunk in txt_chunks(record.value))
    signed = DkimSigner("xn--exmple-cua.com", "pr1", private).sign(build())

    def lookup(name: bytes) -> bytes | None:
        return record.value.encode() if name.rstrip(b".") == record.name.encode() else None

    assert verify(signed, lookup)
    header = message_from_bytes(signed, policy=default_policy)["DKIM-Signature"]
    signed_names = header.split("h=")[1].split(";")[0].replace(" ", "").lower().split(":")
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= set(signed_names)
    tampered = signed.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                              b"List-Unsubscribe-Post: nothing")
    assert not verify(tampered, lookup)
