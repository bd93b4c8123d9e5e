"""Telling people from machines, and keeping only a coarse class of the visitor's address.

Machine traffic is recorded, flagged with a reason, and left out of timelines and reports: HEAD requests, known
scanners and link checkers, fetches within seconds of the message being prepared (security gateways open every
link and image on arrival), and Apple Mail Privacy Protection, whose proxies load every image whether or not the
person reads the message. Gmail's and Yahoo's image proxies fetch when the person opens, so they count as opens.
"""

from __future__ import annotations

import functools
import ipaddress
import re

DEFAULT_PREFETCH_SECONDS = 10

_SCANNERS = re.compile(
    r"bot\b|bot/|crawler|spider|slurp|curl/|wget/|python-requests|python-urllib|aiohttp|httpx|go-http-client"
    r"|java/|okhttp|libwww|scrapy|headlesschrome|phantomjs|barracuda|mimecast|proofpoint|messagelabs"
    r"|trendmicro|trend micro|fireeye|ironport|forcepoint|sophos|zscaler|bingpreview|skypeuripreview"
    r"|facebookexternalhit|whatsapp|linkpreview|nessus|nmap|masscan|zgrab|censys",
    re.IGNORECASE,
)
# Apple's Mail Privacy Protection fetches from Apple's own network with a bare "Mozilla/5.0".
_APPLE = ipaddress.ip_network("17.0.0.0/8")
_APPLE_AGENT = "Mozilla/5.0"


def ip_class(address: str | None) -> str:
    """A /24 (IPv4) or /48 (IPv6) network: enough to see a crowd from one place, not enough to find a person."""
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _is_apple(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.version == 4 and ip in _APPLE


@functools.lru_cache(maxsize=4096)
def _is_scanner(agent: str) -> bool:
    # Mail clients send a handful of distinct agents, so the regex runs once per agent, not per request.
    return _SCANNERS.search(agent) is not None


def machine_reason(*, method: str, user_agent: str, address: str | None, kind: str, issued_at: int,
                   now: float, prefetch_seconds: float = DEFAULT_PREFETCH_SECONDS) -> str:
    """Why this request looks like a machine ("" when it looks like a person)."""
    if method == "HEAD":
        return "head"
    agent = user_agent.strip()
    if not agent:
        return "no-user-agent"
    if _is_scanner(agent):
        return "scanner"
    if kind == "open" and (agent == _APPLE_AGENT or _is_apple(address)):
        return "apple-mpp"
    if issued_at and 0 <= now - issued_at < prefetch_seconds:
        return "prefetch"
    return ""
