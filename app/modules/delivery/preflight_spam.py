"""Preflight: the SpamAssassin score of a built message, when the ``spamassassin`` command is installed.

Runs ``spamassassin -t -L`` (local tests only: no network lookups, so the score does not depend on the
network) without learning from the message and without writing user preferences.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.modules.delivery.messages import PreflightFinding

SPAM_SCORE = 5.0  # SpamAssassin's own default threshold
_STATUS = re.compile(r"^X-Spam-Status:\s*(Yes|No),\s*score=(-?[\d.]+)\s+required=(-?[\d.]+)", re.MULTILINE)
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(\S.*)$")
_ARGUMENTS = ("-t", "-L", "-x", "--cf=bayes_auto_learn 0", "--cf=use_bayes 0")


@dataclass(frozen=True)
class SpamScore:
    score: float
    required: float
    rules: tuple[tuple[float, str, str], ...]  # (points, rule, description), highest points first


def parse_report(output: str) -> SpamScore | None:
    """The score and rules of ``spamassassin -t`` output (None when it has no X-Spam-Status header)."""
    status = _STATUS.search(output)
    if status is None:
        return None
    rules: list[tuple[float, str, str]] = []
    table = output.rsplit("pts rule name", 1)
    if len(table) == 2:
        for line in table[1].splitlines()[2:]:
            found = _RULE.match(line)
            if found:
                rules.append((float(found[1]), found[2], " ".join(found[3].split())))
            elif line.strip() and not line.startswith((" ", "\t")):
                break  # the end of the table
    rules.sort(key=lambda r: -r[0])
    return SpamScore(float(status[2]), float(status[3]), tuple(rules))


def spamassassin_finding(message: bytes, *, command: str = "spamassassin", timeout: float = 30.0,
                         cancelled: Callable[[], bool] = lambda: False, label: str = "") -> PreflightFinding:
    where = f" ({label})" if label else ""
    program = shutil.which(command)
    if program is None:
        return PreflightFinding(level="unknown", check="spamassassin", message="SpamAssassin is not installed, "
                                "so the spam score was not checked (on Debian or Ubuntu: apt install "
                                "spamassassin).")
    try:
        process = subprocess.Popen([program, *_ARGUMENTS], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
    except OSError as exc:
        return PreflightFinding(level="unknown", check="spamassassin", message=f"SpamAssassin could not be "
                                f"started{where}: {exc}.")
    deadline = time.monotonic() + timeout
    data: bytes | None = message
    try:
        while True:
            try:
                out, err = process.communicate(data, timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                data = None  # already written: later calls only wait
                if cancelled() or time.monotonic() > deadline:
                    process.kill()
                    process.communicate()
                    return PreflightFinding(level="unknown", check="spamassassin", message="SpamAssassin did "
                                            f"not finish within {timeout:g} s{where}; the score was not checked.")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    report = parse_report(out.decode("utf-8", "replace")) if process.returncode == 0 else None
    if report is None:
        reason = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
        return PreflightFinding(level="unknown", check="spamassassin", message=f"SpamAssassin gave no score"
                                f"{where}: {reason[0]}.")
    top = [r for r in report.rules if r[0] > 0][:5]
    detail = "\n".join(f"{points:5.1f}  {rule}  {text}" for points, rule, text in report.rules)
    if report.score >= SPAM_SCORE:
        named = ", ".join(f"{rule} ({points:g}: {text})" for points, rule, text in top)
        return PreflightFinding(level="warning", check="spamassassin", message=f"SpamAssassin scores the "
                                f"message{where} {report.score:g}; {SPAM_SCORE:g} or more counts as spam. "
                                f"The rules that weigh most: {named}.", detail=detail)
    return PreflightFinding(level="ok", check="spamassassin", message=f"SpamAssassin score{where} "
                            f"{report.score:g} (below {SPAM_SCORE:g}).", detail=detail)
