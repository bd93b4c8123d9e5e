"""Editor render benchmark: a personalised 15 KB email (HTML + text, ten merge fields) per recipient.

Goal (issue 8): under 0.3 ms of CPU per recipient after the per-version compile. Also prints the compile time and
a floor: plain (unsandboxed) Jinja2 rendering the same final HTML and text sources with the same values.
Run: .venv/bin/python bench/editor_render.py [--renders N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_MS = 0.3
FIRSTS = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger")
STORY = ("<p>Our team spent the month on the things you asked for most: faster imports, clearer reports and a "
         "simpler way to schedule campaigns. Here is what changed and how to make the most of it.</p>")


def build_document() -> Any:
    """A realistic newsletter of about 15 KB with ten merge fields in the body, subject and preheader."""
    from app.modules.editor.document import Document, new_block, new_section

    head = new_section(1, background="#1f2a44")
    head.columns[0].blocks += [
        new_block("heading", text="{{ campaign.name }}", level=2, align="center", color="#ffffff"),
        new_block("text", html="<p>Hello {{ contact.first_name | default(\"there\") }} "
                               "{{ contact.last_name }}</p>", align="center", color="#e2e8f0"),
    ]
    sections = [head]
    for number in range(2):
        row = new_section(2)
        for column in row.columns:
            column.blocks += [new_block("heading", text=f"Story {number + 1}", level=3),
                              new_block("text", html=STORY),
                              new_block("button", text="Read more", url="https://example.com/story")]
        sections.append(row)
    body = new_section(1)
    body.columns[0].blocks += [
        new_block("text", html="<p>Your plan: <strong>{{ contact.plan }}</strong>, points: {{ contact.points }}, "
                               "city: {{ contact.city }}.</p>" + STORY),
        new_block("image", src="https://example.com/banner.png", alt="Banner", link="https://example.com"),
        new_block("divider"),
    ]
    sections.append(body)
    foot = new_section(1)
    foot.columns[0].blocks += [new_block("social"), new_block("footer")]
    sections.append(foot)
    return Document(sections)


def contacts(count: int) -> list[dict[str, Any]]:
    return [{"email": f"person{i}@example.com", "first_name": FIRSTS[i % 10], "last_name": "Lee",
             "language": "en", "time_zone": "", "fields": {"plan": "gold", "points": i, "city": "Ghent"}}
            for i in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=20_000)
    args = parser.parse_args()

    import jinja2

    from app.modules.editor.api import compile_document, preview_values

    document = build_document()
    subject, preheader = "{{ contact.first_name }}, your monthly news", "Inside: {{ campaign.name }}"

    compile_times = []
    for _ in range(20):
        started = time.process_time()
        compiled = compile_document(document, subject=subject, preheader=preheader)
        compile_times.append((time.process_time() - started) * 1000)
    values = preview_values()
    values["campaign"] = {"name": "The Monthly Letter"}
    people = contacts(args.renders)
    sample = compiled.render(people[0], **values)
    assert compiled.validate({"plan", "points", "city"}) == []

    started = time.process_time()
    for person in people:
        compiled.render(person, **values)
    per_recipient = (time.process_time() - started) * 1000 / len(people)

    # Floor: the same final sources in a plain (unsandboxed, unguarded) Jinja2 environment.
    plain_html = jinja2.Environment(autoescape=True).from_string(compiled.html_source.replace(
        "_pr_match(contact, _pr_rules[0])", "true"))
    plain_text = jinja2.Environment(autoescape=False).from_string(compiled.text_source)
    plain_subject = jinja2.Environment().from_string(subject)
    plain_preheader = jinja2.Environment().from_string(preheader)
    flat = [{**{k: v for k, v in p.items() if k != "fields"}, **p["fields"]} for p in people]
    started = time.process_time()
    for person in flat:
        context = {"contact": person, **values, **values["urls"]}
        context["_pr_subject"] = plain_subject.render(context)
        context["_pr_preheader"] = plain_preheader.render(context)
        plain_html.render(context)
        plain_text.render(context)
    floor = (time.process_time() - started) * 1000 / len(flat)

    merge_fields = sum(compiled.html_source.count(f"{{{{ {n}") for n in (
        "contact.", "campaign.", "sender.", "unsubscribe_url", "preferences_url", "webview_url"))
    print(f"email: {len(sample.html.encode()) / 1024:.1f} KB HTML + {len(sample.text.encode()) / 1024:.1f} KB text, "
          f"{merge_fields} merge tags in the HTML (ten distinct fields), {len(people):,} recipients")
    print(f"compile per version:   {statistics.median(compile_times):7.2f} ms CPU (median of 20)")
    print(f"render per recipient:  {per_recipient:7.3f} ms CPU  (goal < {GOAL_MS} ms)  "
          f"{'OK' if per_recipient < GOAL_MS else 'OVER GOAL'}")
    print(f"floor (plain Jinja2):  {floor:7.3f} ms CPU  -> sandbox and guards cost {per_recipient / floor:.2f}x")
    return 0 if per_recipient < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
