"""Where police evidence may go: address checks when a recipient is added and at send time.

Webhooks must be https to a public address: a URL naming a private, loopback, link-local,
multicast or reserved address (or a host that resolves to one, checked at send time) would let
whoever adds a recipient make the server send evidence, or probe, inside its own network (SSRF).
An optional allow-list (TIPLINE_POLICE_DOMAINS) names the only e-mail domains and webhook hosts
that may receive anything. A test-only exemption names host:port pairs that may be local and
plain http (a test's receiver on 127.0.0.1); production refuses to start with it set.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from core.errors import InvalidInput

MAX_ADDRESS = 500
_EMAIL = re.compile(r"[^@\s<>,;\"']+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """An address evidence must not go to; the message is ours, safe to store and show."""


@dataclass(frozen=True, slots=True)
class TargetRules:
    """The allow-list (lower-case domains; empty: any public host) and the test exemption."""

    allowed_domains: tuple[str, ...] = ()
    exempt_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(cls, *, allowed: Iterable[str] = (), exempt: Iterable[str] = ()) -> TargetRules:
        """Rules from the settings' lists (case and surrounding dots ignored)."""
        return cls(
            allowed_domains=tuple(d.strip().strip(".").lower() for d in allowed if d.strip()),
            exempt_hosts=frozenset(h.strip().lower() for h in exempt if h.strip()),
        )

    def allows_domain(self, host: str) -> bool:
        """Whether the allow-list admits this host or e-mail domain (itself or a subdomain)."""
        if not self.allowed_domains:
            return True
        host = host.strip(".").lower()
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    def exempt(self, parts: SplitResult) -> bool:
        """Whether a URL's host:port is exempted for tests."""
        if not self.exempt_hosts or not parts.hostname:
            return False
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname.lower()
        name = f"[{host}]" if ":" in host else host
        return f"{name}:{port}" in self.exempt_hosts


def is_public(address: IpAddress) -> bool:
    """A globally routable unicast address (not private, loopback, link-local, multicast,
    reserved, unspecified, or an IPv4 address smuggled inside IPv6)."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public(mapped)
    return address.is_global and not address.is_multicast


def _ip_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_email(address: str, rules: TargetRules) -> str:
    """A clean e-mail address the allow-list admits, or InvalidInput saying why not."""
    address = address.strip()
    if _EMAIL.fullmatch(address) is None:
        raise InvalidInput("this is not an e-mail address")
    if not rules.allows_domain(address.rpartition("@")[2]):
        raise InvalidInput("this e-mail domain is not on the police allow-list")
    return address


def check_webhook_url(url: str, rules: TargetRules) -> SplitResult:
    """The parts of a webhook URL that may receive evidence, as far as the URL alone can say
    (a host name's addresses are checked at send time), or InvalidInput saying why not."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("give the webhook as an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("a webhook URL must not carry a user name or password")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise InvalidInput("the webhook URL's port is not a number from 1 to 65535") from None
    if rules.exempt(parts):
        return parts
    if parts.scheme != "https":
        raise InvalidInput("evidence travels over https only: give an https:// URL")
    literal = _ip_literal(parts.hostname)
    if literal is not None and not is_public(literal):
        raise InvalidInput("the webhook URL names a private, local or reserved address")
    if not rules.allows_domain(parts.hostname):
        raise InvalidInput("this webhook host is not on the police allow-list")
    return parts


def check_address(kind: str, address: str, rules: TargetRules) -> str:
    """A clean e-mail address or webhook URL for a police recipient, or InvalidInput."""
    address = address.strip()
    if kind not in ("email", "webhook"):
        raise InvalidInput("choose e-mail or webhook")
    if not address or len(address) > MAX_ADDRESS:
        raise InvalidInput(f"give an address of at most {MAX_ADDRESS} characters")
    if kind == "email":
        return check_email(address, rules)
    check_webhook_url(address, rules)
    return address


def refuse_addresses(addresses: Iterable[str]) -> None:
    """Raise TargetRefused unless every address a host resolved to is public (one private
    address among public ones is refused too: the connection could pick it)."""
    found = [_ip_literal(a.split("%", 1)[0]) for a in addresses]
    if not found:
        raise TargetRefused("the webhook host did not resolve")
    if any(a is None or not is_public(a) for a in found):
        raise TargetRefused(
            "refused: the webhook host is or resolves to a private, local or reserved address"
        )
