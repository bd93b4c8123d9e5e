"""Column mapping suggestions: exports of Mailchimp, HubSpot, Google Contacts and Outlook, then header synonyms."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.modules.contacts.api import FieldInfo

# Targets of a column; custom fields are "field:<key>" and "new_field:<label>:<type>".
IGNORE = ""
BUILTIN_TARGETS = {
    "email": "Email address",
    "first_name": "First name",
    "last_name": "Last name",
    "language": "Language",
    "time_zone": "Time zone",
    "tags": "Tags",
    "status": "Subscription status",
    "unsubscribed": "Unsubscribed (yes/no)",
}
SINGLE_TARGETS = frozenset(BUILTIN_TARGETS) - {"tags"}  # only one column may feed each of these


@dataclass(frozen=True)
class MappingSuggestion:
    """What the columns look like: a recognised export (``preset``) or plain header matching."""

    mapping: dict[int, str]
    preset: str = ""  # "mailchimp", "hubspot", "google", "outlook" or ""
    preset_name: str = ""
    file_status: str | None = None  # every row's status, e.g. "unsubscribed" for Mailchimp's unsubscribed export
    notes: list[str] = field(default_factory=list)


def normalise(header: str) -> str:
    """``"E-Mail_Address "`` -> ``"e mail address"``; ``"Prénom"`` -> ``"prenom"``."""
    text = unicodedata.normalize("NFKD", header)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


_SYNONYMS: dict[str, tuple[str, ...]] = {
    "email": ("email", "e mail", "mail", "email address", "e mail address", "emailaddress", "email adress",
              "courriel", "adresse email", "adresse e mail", "adresse mail", "correo", "correo electronico",
              "e mail 1 value", "primary email", "email 1", "mail address"),
    "first_name": ("first name", "firstname", "first", "given name", "givenname", "forename", "prenom", "vorname",
                   "nombre", "fname", "first names"),
    "last_name": ("last name", "lastname", "last", "surname", "family name", "familyname", "nom", "nom de famille",
                  "nachname", "apellido", "apellidos", "lname"),
    "language": ("language", "locale", "lang", "preferred language", "langue", "sprache", "idioma", "language code"),
    "time_zone": ("time zone", "timezone", "tz", "time zone name", "fuseau horaire", "zeitzone"),
    "tags": ("tags", "tag", "labels", "label", "categories", "category", "groups", "group membership",
             "interests"),
    "status": ("status", "subscription status", "email status", "marketing status", "member status",
               "email marketing status"),
    "unsubscribed": ("unsubscribed", "opted out", "opt out", "email opt out", "do not email",
                     "unsubscribed from all email"),
}
_BY_SYNONYM = {synonym: target for target, synonyms in _SYNONYMS.items() for synonym in synonyms}


def auto_map(columns: Sequence[str], fields: Sequence[FieldInfo] = ()) -> dict[int, str]:
    """Match columns to fields by name: built-in synonyms first, then custom fields by label or key."""
    by_field = {}
    for info in fields:
        by_field.setdefault(normalise(info.label), info.key)
        by_field.setdefault(normalise(info.key), info.key)
    mapping: dict[int, str] = {}
    used: set[str] = set()
    for index, name in enumerate(columns):
        norm = normalise(name)
        target = _BY_SYNONYM.get(norm) or (f"field:{by_field[norm]}" if norm in by_field else "")
        if not target or (target in used and target != "tags"):
            continue  # the first column with a name wins; "Email (2)" matches nothing and stays unmapped
        used.add(target)
        mapping[index] = target
    return mapping


# -- presets -------------------------------------------------------------------------------------------------


def _index(columns: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for position, name in enumerate(columns):
        found.setdefault(name.strip().lower(), position)
    return found


def _put(mapping: dict[int, str], index: dict[str, int], target: str, *names: str) -> None:
    for name in names:
        position = index.get(name.lower())
        if position is not None and position not in mapping:
            mapping[position] = target
            return


def _field_target(fields: Sequence[FieldInfo], label: str, kind: str = "text") -> str:
    wanted = normalise(label)
    for info in fields:
        if normalise(info.label) == wanted or normalise(info.key) == wanted:
            return f"field:{info.key}"
    return f"new_field:{label}:{kind}"


def _mailchimp(columns: Sequence[str], file_name: str, fields: Sequence[FieldInfo]) -> MappingSuggestion | None:
    index = _index(columns)
    signature = {"member_rating", "optin_time", "confirm_time", "leid", "euid", "last_changed", "unsub_time",
                 "clean_time", "optin_ip"}
    if "email address" not in index or len(signature & index.keys()) < 2:
        return None
    mapping: dict[int, str] = {}
    _put(mapping, index, "email", "Email Address")
    _put(mapping, index, "first_name", "First Name")
    _put(mapping, index, "last_name", "Last Name")
    _put(mapping, index, "time_zone", "TIMEZONE")
    _put(mapping, index, "language", "LANGUAGE", "Language")
    _put(mapping, index, "tags", "TAGS")
    _put(mapping, index, "status", "Status", "Email Marketing Status", "STATUS")
    name = file_name.lower()
    status, notes = None, []
    if "unsub_time" in index or name.startswith("unsubscribed"):
        status = "unsubscribed"
        notes.append("This is Mailchimp's export of unsubscribed people: they are added to the suppression list "
                     "and never subscribed.")
    elif "clean_time" in index or name.startswith("cleaned"):
        status = "cleaned"
        notes.append("This is Mailchimp's export of cleaned (bounced) addresses: they are added to the suppression "
                     "list as hard bounces and never subscribed.")
    elif name.startswith(("nonsubscribed", "non_subscribed", "transactional")):
        status = "none"
        notes.append("This is Mailchimp's export of non-subscribed contacts: they are imported without subscribing "
                     "them to a list.")
    return MappingSuggestion(mapping, "mailchimp", "Mailchimp export", status, notes)


def _hubspot(columns: Sequence[str], _file_name: str, fields: Sequence[FieldInfo]) -> MappingSuggestion | None:
    index = _index(columns)
    signature = {"record id", "lifecycle stage", "marketing contact status", "contact owner", "lead status",
                 "associated company", "unsubscribed from all email", "hubspot score", "last activity date"}
    if "email" not in index or len(signature & index.keys()) < 2:
        return None
    mapping: dict[int, str] = {}
    _put(mapping, index, "email", "Email")
    _put(mapping, index, "first_name", "First Name")
    _put(mapping, index, "last_name", "Last Name")
    _put(mapping, index, "language", "Preferred language", "Language")
    _put(mapping, index, "time_zone", "Time Zone", "Timezone")
    _put(mapping, index, "status", "Marketing contact status")
    _put(mapping, index, "unsubscribed", "Unsubscribed from all email", "Opted out of all email")
    if "lifecycle stage" in index:
        mapping[index["lifecycle stage"]] = _field_target(fields, "Lifecycle stage")
    return MappingSuggestion(mapping, "hubspot", "HubSpot export", None,
                             ["Non-marketing contacts are imported without a subscription; people unsubscribed "
                              "from all email are added to the suppression list."])


def _google(columns: Sequence[str], _file_name: str, fields: Sequence[FieldInfo]) -> MappingSuggestion | None:
    index = _index(columns)
    if "e-mail 1 - value" not in index:
        return None
    mapping: dict[int, str] = {}
    _put(mapping, index, "email", "E-mail 1 - Value")
    _put(mapping, index, "first_name", "Given Name", "First Name")
    _put(mapping, index, "last_name", "Family Name", "Last Name")
    _put(mapping, index, "language", "Language")
    _put(mapping, index, "tags", "Group Membership", "Labels")
    return MappingSuggestion(mapping, "google", "Google Contacts export", None,
                             ["Google labels become tags (the built-in \"My Contacts\" and \"Starred\" are left out)."])


def _outlook(columns: Sequence[str], _file_name: str, fields: Sequence[FieldInfo]) -> MappingSuggestion | None:
    index = _index(columns)
    signature = {"e-mail 2 address", "e-mail display name", "e-mail type", "middle name", "categories",
                 "business phone", "home phone", "job title"}
    if "e-mail address" not in index or len(signature & index.keys()) < 2:
        return None
    mapping: dict[int, str] = {}
    _put(mapping, index, "email", "E-mail Address")
    _put(mapping, index, "first_name", "First Name")
    _put(mapping, index, "last_name", "Last Name")
    _put(mapping, index, "language", "Language")
    _put(mapping, index, "tags", "Categories")
    return MappingSuggestion(mapping, "outlook", "Outlook export", None, ["Outlook categories become tags."])


PRESETS = (_mailchimp, _hubspot, _google, _outlook)


def suggest_mapping(columns: Sequence[str], file_name: str = "",
                    fields: Sequence[FieldInfo] = ()) -> MappingSuggestion:
    """A recognised export's mapping, completed by name matching for the columns it leaves out."""
    for preset in PRESETS:
        found = preset(columns, file_name, fields)
        if found is not None:
            mapping = dict(found.mapping)
            taken = set(mapping.values())
            for position, target in auto_map(columns, fields).items():
                if position not in mapping and (target not in taken or target == "tags") and target != "email":
                    mapping[position] = target
                    taken.add(target)
            return MappingSuggestion(mapping, found.preset, found.preset_name, found.file_status, found.notes)
    return MappingSuggestion(auto_map(columns, fields))


# -- values ---------------------------------------------------------------------------------------------------

_STATUS_WORDS = {
    "subscribed": "subscribed", "subscribe": "subscribed", "active": "subscribed", "opted in": "subscribed",
    "opt in": "subscribed", "marketing contact": "subscribed", "confirmed": "subscribed",
    "pending": "unconfirmed", "unconfirmed": "unconfirmed", "not confirmed": "unconfirmed",
    "unsubscribed": "unsubscribed", "unsubscribe": "unsubscribed", "opted out": "unsubscribed",
    "opt out": "unsubscribed",
    "cleaned": "cleaned", "bounced": "cleaned", "hard bounce": "cleaned", "hard bounced": "cleaned",
    "complained": "complained", "spam": "complained", "spam complaint": "complained",
    "non subscribed": "none", "nonsubscribed": "none", "not subscribed": "none", "never subscribed": "none",
    "transactional": "none", "non marketing contact": "none", "archived": "none",
}
STATUSES = ("subscribed", "unconfirmed", "unsubscribed", "cleaned", "complained", "none")


def status_from_text(text: str) -> str | None:
    """A status word from an export (Mailchimp, HubSpot or plain) -> one of :data:`STATUSES`; None when blank.

    Raises ValueError for a word we do not know, so the row is rejected rather than guessed.
    """
    norm = normalise(text)
    if not norm:
        return None
    found = _STATUS_WORDS.get(norm)
    if found is None:
        raise ValueError(f'"{text.strip()[:60]}" is not a subscription status '
                         "(subscribed, pending, unsubscribed, cleaned, complained or non-subscribed)")
    return found


_YES = frozenset({"yes", "y", "true", "t", "1", "x", "oui", "ja", "si", "on", "checked"})
_NO = frozenset({"no", "n", "false", "f", "0", "non", "nein", "off", "unchecked"})


def boolean_from_text(text: str) -> bool | None:
    norm = normalise(text)
    if not norm:
        return None
    if norm in _YES:
        return True
    if norm in _NO:
        return False
    raise ValueError(f'"{text.strip()[:60]}" is not yes or no')


_GOOGLE_SYSTEM_LABELS = frozenset({"mycontacts", "starred", "my contacts", "friends_and_family"})
_TAG_SPLIT = re.compile(r"\s*(?::::|;|,|\|)\s*")


def split_tags(text: str) -> list[str]:
    """Tags from one cell of any export: ``"a","b"`` (Mailchimp), ``* myContacts ::: VIP`` (Google), ``a;b``."""
    tags: list[str] = []
    for part in _TAG_SPLIT.split(text):
        name = part.strip().strip('"').strip()
        if name.startswith("* "):  # Google's system groups are marked with a star
            if name[2:].strip().lower() in _GOOGLE_SYSTEM_LABELS:
                continue
            name = name[2:].strip()
        if name and name.lower() not in {t.lower() for t in tags}:
            tags.append(name[:100])
    return tags
