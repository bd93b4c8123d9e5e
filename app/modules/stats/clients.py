"""Mail client and device of an open, from its user agent (ua-parser's maintained rules, cached per agent)."""

from __future__ import annotations

import functools

# ua-parser names the browser engine; mail clients that load images through a proxy or a web view get a name a
# marketer recognises instead.
_CLIENT_NAMES = {
    "GmailImageProxy": "Gmail",
    "Outlook": "Outlook",
    "Thunderbird": "Thunderbird",
    "Apple Mail": "Apple Mail",
    "Mobile Safari UI/WKWebView": "Apple Mail",
    "YahooMailProxy": "Yahoo Mail",
}
_MARKERS = (  # checked first: cheap substrings that ua-parser's rules do not name as a client
    ("GoogleImageProxy", "Gmail"),
    ("YahooMailProxy", "Yahoo Mail"),
    ("Microsoft Outlook", "Outlook"),
    ("ms-office", "Outlook"),
    ("Thunderbird", "Thunderbird"),
    ("AppleWebKit/605.1.15 (KHTML, like Gecko)", "Apple Mail"),
)
_MOBILE_OS = ("iOS", "Android", "Windows Phone", "BlackBerry OS")


@functools.lru_cache(maxsize=4096)
def classify(user_agent: str) -> tuple[str, str]:
    """(client, device) for a user agent: device is desktop, mobile, tablet, proxy or unknown."""
    agent = (user_agent or "").strip()
    if not agent:
        return "Unknown", "unknown"
    from ua_parser import parse

    result = parse(agent)
    family = result.user_agent.family if result.user_agent else "Other"
    os_family = result.os.family if result.os else ""
    device_family = result.device.family if result.device else ""
    client = next((name for marker, name in _MARKERS if marker in agent), "")
    client = client or _CLIENT_NAMES.get(family, family if family != "Other" else "Other")
    if client == "Gmail" or "Proxy" in family:
        device = "proxy"  # Gmail and Yahoo fetch images on their servers: the device is not known
    elif device_family in ("iPad",) or "Tablet" in device_family:
        device = "tablet"
    elif os_family in _MOBILE_OS or device_family in ("iPhone",):
        device = "mobile"
    elif os_family:
        device = "desktop"
    else:
        device = "unknown"
    return client[:60], device
