"""Cell values for the importer: a fast address check with parse_address's exact answer, and typed field values."""

from __future__ import annotations

import datetime as dt
import math
import re
from functools import lru_cache
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, DOT_ATOM_TEXT, EMAIL_MAX_LENGTH

from app.modules.contacts.addresses import Address, email_key, parse_address

MAX_TEXT = 10_000  # characters in a custom text field
LIMITS = {"first_name": 200, "last_name": 200, "language": 35, "time_zone": 64}
_CASE_INSENSITIVE = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


# -- addresses --------------------------------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def _domain_forms(domain: str) -> tuple[str, str, str] | None:
    """What parse_address's two validate_email calls make of ``domain``: (first pass, normalised, IDNA ASCII)."""
    try:
        result = validate_email(f"x@{domain}", check_deliverability=False, allow_smtputf8=True,
                                allow_display_name=False)
    except EmailNotValidError:
        return None
    if result.domain == domain:  # already normal (the usual case): the second pass would see the same input
        return domain, domain, result.ascii_domain
    again = _domain_forms(result.domain)
    return None if again is None else (result.domain, again[1], again[2])


def _too_long(text: str) -> bool:
    return len(text.encode("utf-8")) > EMAIL_MAX_LENGTH


def fast_parse_address(raw: str) -> Address:
    """Same result as :func:`parse_address` (same Address, same InvalidAddress reason), about 10x faster.

    A plain ASCII local part (what almost every address has) is checked with email-validator's own dot-atom
    rule and the domain is validated once per distinct domain; anything else goes the slow, complete way.
    """
    text = raw.replace("\x00", "").strip().strip("<>").strip()
    if not text or len(text) > 320:
        return parse_address(raw)
    local, at, domain = text.rpartition("@")
    if not at or not DOT_ATOM_TEXT.match(local):
        return parse_address(raw)
    forms = _domain_forms(domain)
    if forms is None:
        return parse_address(raw)
    first, normal, ascii_domain = forms
    normalized_local = local.lower() if local.lower() in _CASE_INSENSITIVE else local
    normalized = f"{normalized_local}@{normal}"
    if _too_long(f"{local}@{first}") or _too_long(normalized) or _too_long(f"{normalized_local}@{ascii_domain}"):
        return parse_address(raw)
    return Address(normalized, email_key(normalized))


def first_address(cell: str) -> str:
    """Google and Outlook put several addresses in one cell ("a@x.com ::: b@y.com"): the first is the contact."""
    if ":::" in cell:
        return cell.split(":::", 1)[0]
    return cell


# -- typed values --------------------------------------------------------------------------------------------


def clean_text(text: str, limit: int, what: str) -> str:
    value = " ".join(text.replace("\x00", "").split()) if "\n" in text or "\r" in text or "\t" in text \
        else text.replace("\x00", "").strip()
    if len(value) > limit:
        raise ValueError(f"{what} is {len(value):,} characters long; at most {limit:,} fit")
    return value


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def to_time_zone(text: str) -> str:
    value = text.strip()
    if not value:
        return ""
    zones = _zones()
    if not zones:  # no time zone database on this system (Windows without tzdata): keep what the file says
        return clean_text(value, LIMITS["time_zone"], "the time zone")
    found = zones.get(value.lower())
    if found is None:
        raise ValueError(f'"{value[:60]}" is not a time zone (use a name such as Europe/Paris or America/New_York)')
    return found


_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*\Z")


def to_language(text: str) -> str:
    value = clean_text(text, LIMITS["language"], "the language")
    if _LANGUAGE.match(value):
        head, *rest = re.split(r"[-_]", value)
        return "-".join([head.lower(), *[part.upper() if len(part) == 2 else part for part in rest]])
    return value


_NUMBER_SPACES = re.compile(r"[\s\u00a0\u202f']")
_THOUSANDS_COMMA = re.compile(r"[-+]?\d{1,3}(,\d{3})+\Z")


def to_number(text: str) -> int | float:
    value = _NUMBER_SPACES.sub("", text)
    if "," in value and "." in value:
        if value.rfind(",") > value.rfind("."):  # 1.234,5 (continental Europe)
            value = value.replace(".", "").replace(",", ".")
        else:  # 1,234.5
            value = value.replace(",", "")
    elif "," in value:
        value = value.replace(",", "") if _THOUSANDS_COMMA.match(value) else value.replace(",", ".")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f'"{text.strip()[:60]}" is not a number') from None
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f'"{text.strip()[:60]}" is not a number')
    if number.is_integer() and "." not in value and "e" not in value.lower() and abs(number) < 2**53:
        return int(number)
    return number


_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})" + _TIME + r"\Z")
_NUMERIC = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?\Z")
_MONTHS = {name: number for number, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"),
     ("nov", "november"), ("dec", "december")], start=1) for name in names}
_WORDY_DMY = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?[\s\-/.]+([A-Za-z]+)\.?,?[\s\-/.]+(\d{4})\Z")
_WORDY_MDY = re.compile(r"([A-Za-z]+)\.?[\s\-/.]+(\d{1,2})(?:st|nd|rd|th)?,?[\s\-/.]+(\d{4})\Z")
DATE_ORDERS = {"dmy": "day/month/year", "mdy": "month/day/year"}


def date_order_hint(text: str) -> str | None:
    """"dmy" or "mdy" when a numeric date can only be read one way (31/12/2024, 12/31/2024); else None."""
    match = _NUMERIC.match(text.strip())
    if not match:
        return None
    first, second = int(match.group(1)), int(match.group(2))
    if first > 12 >= second:
        return "dmy"
    if second > 12 >= first:
        return "mdy"
    return None


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        this_year = dt.date.today().year
        year += 2000 if 2000 + year <= this_year + 10 else 1900
    return year


def to_date(text: str, order: str = "dmy") -> str:
    """A date as ISO ``YYYY-MM-DD``: ISO forms, d/m/Y or m/d/Y (per ``order``), and "5 March 2024"."""
    value = text.strip()
    try:
        if match := _ISO.match(value):
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3))).isoformat()
        if match := _NUMERIC.match(value):
            first, second, year = int(match.group(1)), int(match.group(2)), _year(match.group(3))
            day, month = (first, second) if order == "dmy" else (second, first)
            return dt.date(year, month, day).isoformat()
        if (match := _WORDY_DMY.match(value)) and match.group(2).lower() in _MONTHS:
            return dt.date(int(match.group(3)), _MONTHS[match.group(2).lower()], int(match.group(1))).isoformat()
        if (match := _WORDY_MDY.match(value)) and match.group(1).lower() in _MONTHS:
            return dt.date(int(match.group(3)), _MONTHS[match.group(1).lower()], int(match.group(2))).isoformat()
    except ValueError:
        pass
    shown = DATE_ORDERS.get(order, order)
    raise ValueError(f'"{value[:60]}" is not a date (this column is read as {shown}; '
                     "use 2024-12-31 or 31/12/2024 or 12/31/2024)")


def to_choice(text: str, choices: list[str], grow: bool) -> str:
    """One of the field's choices (case-insensitive); a field the import creates learns new choices."""
    value = " ".join(text.split())
    for choice in choices:
        if choice.lower() == value.lower():
            return choice
    if grow:
        if len(value) > 200:
            raise ValueError("a choice is at most 200 characters long")
        choices.append(value)
        return value
    shown = ", ".join(choices[:8]) + (" ..." if len(choices) > 8 else "")
    raise ValueError(f'"{value[:60]}" is not one of the choices ({shown})')
