"""The public forms' flood limits, and who the client is behind a trusted reverse proxy.

Every POST of /report and /people/new, and every /status look-up, is counted per client address,
per browser session (the CSRF cookie) and overall, before its body is read: a flood is refused
for the price of a counter. The refusal is a 429 page in the reader's language with Retry-After.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import HTMLResponse

from core.i18n import SUPPORTED, Texts
from core.limits import Rate, admit_rates, parse_rates, retry_after
from web import csrf
from web.templating import TEMPLATES

if TYPE_CHECKING:
    from web.app import WebContext

Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class FormLimits:
    """Rates of the public forms (settings.form_limits_*), and the proxies believed."""

    address: tuple[Rate, ...] = parse_rates("10/1m,40/1h")
    session: tuple[Rate, ...] = parse_rates("5/1m,20/1h")
    overall: tuple[Rate, ...] = parse_rates("300/1m")
    trusted_proxies: tuple[Network, ...] = field(default=())

    @classmethod
    def read(cls, *, address: str, session: str, overall: str, proxies: list[str]) -> FormLimits:
        """From the settings' text (already validated at start)."""
        networks = tuple(ip_network(p, strict=False) for p in proxies)
        return cls(parse_rates(address), parse_rates(session), parse_rates(overall), networks)


def client_address(request: Request, trusted: tuple[Network, ...]) -> str:
    """The peer's address; behind a trusted proxy, the nearest untrusted hop of X-Forwarded-For.

    The header is believed only when the peer is one of our proxies: anyone else can write it.
    Walking from the right, each hop our proxies added is skipped; the first other is the client.
    """
    peer = request.client.host if request.client else "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
    client = peer
    for hop in reversed([h for h in hops if h]):
        if not _is_address(hop):
            break  # garbage left of our proxy: keep the last hop we can vouch for
        client = hop
        if not _is_trusted(hop, trusted):
            break
    return client


def _is_address(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(host: str, trusted: tuple[Network, ...]) -> bool:
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in trusted)


async def over_limit(request: Request, *, form: str, lang: str) -> HTMLResponse | None:
    """None when this request may go on (and is counted); else the 429 page."""
    context: WebContext = request.app.state.context
    limits = context.form_limits
    session = request.cookies.get(csrf.COOKIE, "")[:64]
    scopes = [
        (f"form:{form}:addr:{client_address(request, limits.trusted_proxies)}", limits.address),
        (f"form:{form}:all", limits.overall),
    ]
    if session:
        scopes.insert(1, (f"form:{form}:session:{session}", limits.session))
    for key, rates in scopes:
        wait = await admit_rates(context.limiter, key, rates)
        if wait:
            return _limited(request, lang=lang, wait=wait, form=form)
    return None


def _limited(request: Request, *, lang: str, wait: float, form: str) -> HTMLResponse:
    seconds = retry_after(wait)
    values = {
        "t": Texts(lang),
        "lang": lang,
        "languages": [(code, Texts(code)("web.lang.name")) for code in SUPPORTED],
        "minutes": max(1, -(-seconds // 60)),
        "here": f"/{form}",
    }
    headers = {"Retry-After": str(seconds), "Cache-Control": "no-store"}
    return TEMPLATES.TemplateResponse(
        request, "limited.html", values, status_code=429, headers=headers
    )
