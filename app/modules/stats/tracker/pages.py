"""The few pages a recipient sees: unsubscribe, preferences, confirmation and errors. Plain HTML, no scripts,
no cookies, nothing loaded from elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:560px;margin:8vh auto;background:#fff;border-radius:10px;padding:32px 36px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:1.45em;margin:0 0 .6em}p{margin:.5em 0 1em}
button{font:inherit;border:0;border-radius:6px;padding:.6em 1.3em;background:#2f5bd3;color:#fff;cursor:pointer}
button.secondary{background:#e3e6ec;color:#1d2330}
label{display:block;margin:.35em 0}.muted{color:#5d6575;font-size:.9em}a{color:#2f5bd3}
"""

# Pages must not be framed, cached or indexed; no script runs on them.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def page(title: str, body: str, site: str = "Postroom") -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)} · {escape(site)}</title><style>{_STYLE}</style></head>"
            f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>")


def invalid_link(what: str) -> str:
    return page("This link is not valid", f"<p>This {escape(what)} link is damaged or was not made by us. "
                "Please use the link exactly as it appears in the email.</p>")


def unsubscribe_form(preferences_url: str | None) -> str:
    other = (f'<p class="muted">Or <a href="{escape(preferences_url)}">choose which lists you receive</a>.</p>'
             if preferences_url else "")
    return page("Unsubscribe?", (
        "<p>Press the button to stop receiving these emails.</p>"
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>' + other))


def unsubscribed() -> str:
    return page("You are unsubscribed", "<p>You will not receive these emails any more. "
                "It can take a few minutes for everything to catch up.</p>")


def not_one_click() -> str:
    return page("Nothing was changed", "<p>This request did not ask to unsubscribe. "
                "Please use the button on the unsubscribe page.</p>")


def preferences_form(lists: Sequence[tuple[int, str]]) -> str:
    boxes = "".join(f'<label><input type="checkbox" name="keep" value="{list_id}" checked> {escape(name)}</label>'
                    for list_id, name in lists)
    choose = (f"<p>Untick the lists you no longer want, then save.</p>{boxes}"
              '<p><button type="submit" name="action" value="save">Save my choices</button></p>') if lists else ""
    return page("Your email preferences", (
        f'<form method="post">{choose}'
        '<p><button class="secondary" type="submit" name="action" value="leave-all">'
        "Unsubscribe from everything</button></p></form>"))


def preferences_saved(left: Sequence[str], everything: bool) -> str:
    if everything:
        return unsubscribed()
    if not left:
        return page("Nothing was changed", "<p>You are still on all the lists shown.</p>")
    names = "".join(f"<li>{escape(name)}</li>" for name in left)
    return page("Your choices are saved", f"<p>You will no longer receive:</p><ul>{names}</ul>")


def confirm_form() -> str:
    return page("Confirm your subscription", (
        "<p>Press the button to confirm that you want to receive these emails.</p>"
        '<form method="post"><button type="submit">Confirm my subscription</button></form>'))


def confirmed() -> str:
    return page("Thank you", "<p>Your subscription is confirmed.</p>")


def not_available(what: str) -> str:
    return page("Not available", f"<p>This {escape(what)} is not available (any more).</p>")


def unavailable() -> str:
    return page("Please try again", "<p>We could not record this just now. Please try again in a minute.</p>")
