"""Starter templates (newsletter, announcement, welcome), put in the library on first start when it is empty."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.kernel.database import Database
from app.kernel.settings import Settings
from app.modules.editor import store
from app.modules.editor.document import Block, Document, Section, new_block, new_section

log = logging.getLogger(__name__)
SEEDED_KEY = "editor.starters_seeded"
HELLO = '{{ contact.first_name | default("there") }}'
DARK = "#1f2a44"
SOFT = "#eef2f7"
WHITE = "#ffffff"


def _section(columns: list[list[Block]], **props: Any) -> Section:
    section = new_section(len(columns), **props)
    for column, blocks in zip(section.columns, columns, strict=True):
        column.blocks.extend(blocks)
    return section


def _footer() -> Section:
    return _section([[new_block("social", links=[{"network": "facebook", "url": "https://facebook.com/"},
                                                 {"network": "instagram", "url": "https://instagram.com/"},
                                                 {"network": "linkedin", "url": "https://linkedin.com/"}]),
                      new_block("footer")]], background=SOFT, padding=24)


def newsletter() -> Document:
    """A monthly newsletter: masthead, greeting, two stories side by side, a list, footer."""
    story = [
        ("Behind the scenes", "How our team builds the features you asked for, one small release at a time."),
        ("Customer story", "Maria's bakery doubled its repeat orders with a weekly email. Here is how."),
    ]
    return Document([
        _section([[new_block("heading", text="The Monthly Letter", level=2, align="center", color=WHITE),
                   new_block("text", html="<p>News, ideas and stories from our team</p>", align="center",
                             color="#cbd5e0")]], background=DARK, padding=32),
        _section([[new_block("heading", text=f"Hello {HELLO},", level=2),
                   new_block("text", html="<p>Here is what happened this month: two stories we loved, a few "
                                          "updates, and an invitation. Grab a coffee and enjoy.</p>")]],
                 padding=24),
        _section([[new_block("heading", text=title, level=3), new_block("text", html=f"<p>{body}</p>"),
                   new_block("button", text="Read the story", url="https://example.com/blog", align="left")]
                  for title, body in story], padding=8),
        _section([[new_block("divider", width=90),
                   new_block("heading", text="Also this month", level=3),
                   new_block("text", html="<ul><li><strong>New:</strong> dark mode in the app</li>"
                                          "<li>Webinar on <em>email design</em>, Thursday at 5 pm</li>"
                                          '<li>We are hiring: <a href="https://example.com/jobs">see the jobs</a>'
                                          "</li></ul>")]], padding=8),
        _footer(),
    ])


def announcement() -> Document:
    """A product announcement: bold banner with a call to action, three features, a second button."""
    features = [("Faster", "Everything loads in half the time."), ("Simpler", "Fewer clicks for what you do most."),
                ("Safer", "Your data stays on your computer.")]
    return Document([
        _section([[new_block("spacer", height=16),
                   new_block("heading", text="Introducing Version 2", level=1, align="center", color=WHITE),
                   new_block("text", html="<p>The biggest update we have ever shipped is here, and it is yours "
                                          "today at no extra cost.</p>", align="center", color="#e2e8f0"),
                   new_block("button", text="See what is new", url="https://example.com/new", color=WHITE,
                             text_color=DARK),
                   new_block("spacer", height=16)]], background="#2b6cb0", padding=32),
        _section([[new_block("heading", text=title, level=3, align="center"),
                   new_block("text", html=f"<p>{body}</p>", align="center")] for title, body in features],
                 padding=24),
        _section([[new_block("divider", width=60),
                   new_block("text", html=f"<p>{HELLO}, we would love to hear what you think. Reply to this "
                                          "email: a real person reads every answer.</p>", align="center"),
                   new_block("button", text="Try it now", url="https://example.com/app")]], padding=16),
        _footer(),
    ])


def welcome() -> Document:
    """A welcome email: greeting, three first steps, a note for French speakers (a conditional block)."""
    steps = [("1. Set up", "Add your details so we can tailor what we send."),
             ("2. Explore", "Find the features people love in their first week."),
             ("3. Ask", "Questions? Reply to this email any time.")]
    french = new_block("conditional", label="French speakers",
                       rule={"match": "all", "conditions": [{"field": "language", "op": "equals", "value": "fr"}]})
    french.children.append(new_block("text", html="<p><em>Vous préférez le français ? Toute notre aide existe "
                                                  "aussi en français.</em></p>", align="center"))
    return Document([
        _section([[new_block("spacer", height=8),
                   new_block("heading", text=f"Welcome aboard, {HELLO}!", level=1, align="center"),
                   new_block("text", html="<p>We are glad you are here. In the next few days we will show you "
                                          "how to get the most out of your account.</p>", align="center"),
                   new_block("button", text="Get started", url="https://example.com/start"), french]],
                 padding=32),
        _section([[new_block("heading", text=title, level=3), new_block("text", html=f"<p>{body}</p>")]
                  for title, body in steps], background=SOFT, padding=16),
        _section([[new_block("text", html="<p>Talk soon,<br>The team</p>")]], padding=16),
        _footer(),
    ])


STARTERS: dict[str, Callable[[], Document]] = {
    "Newsletter": newsletter,
    "Announcement": announcement,
    "Welcome": welcome,
}


def seed_starters(db: Database, settings: Settings) -> int:
    """Add the starters once, on the first start with an empty library; returns how many were added."""
    if settings.get(SEEDED_KEY, False):
        return 0
    added = 0
    if store.template_count(db) == 0:
        from app.modules.editor.render import render_layout

        brand = store.brand_kit(db)
        with db.transaction() as session:
            for name, build in STARTERS.items():
                document = Document.from_json(build().to_json())
                store.create_template(session, name, document, "starter template",
                                      render_layout(document, brand).html)
                added += 1
    settings.set(SEEDED_KEY, True)
    log.info("starter templates added", extra={"count": added})
    return added
