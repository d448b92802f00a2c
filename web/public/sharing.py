"""Sharing a public case page: OpenGraph and Twitter-card tags, share links and a WeChat QR.

Everything is built on the server from the page's own public address: no share widget or script
from another site is loaded (the page's CSP allows none), so a reader is not tracked by sharing.
WeChat opens no share URL from a web page; its users scan a QR code of the page instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from markupsafe import Markup

from core.cases.people import PublicPerson
from core.i18n import Texts
from web.dashboard.qr import qr_svg


@dataclass(frozen=True, slots=True)
class Share:
    """The page's public address and what sharing it shows."""

    url: str
    title: str
    description: str
    image: str | None
    telegram: str
    whatsapp: str
    wechat_qr: Markup | None


def _description(person: PublicPerson, texts: Texts) -> str:
    seen = person.last_seen_at.strftime("%Y-%m-%d") if person.last_seen_at else ""
    place = person.last_seen_place or ""
    if not seen and not place:
        return texts("web.share.description_unknown")
    return texts(f"web.share.description.{person.kind}", place=place or "?", date=seen or "?")


def share_of(person: PublicPerson, *, base_url: str, texts: Texts) -> Share:
    """Share links and card tags of a public case page (base_url: the public address)."""
    base = base_url.rstrip("/")
    url = f"{base}/people/{person.ref}"
    title = texts(f"web.share.title.{person.kind}", name=person.full_name)
    description = _description(person, texts)
    first = person.photos[0].number if person.photos else None
    message = f"{title} — {description}"
    return Share(
        url=url,
        title=title,
        description=description,
        image=f"{base}/people/{person.ref}/photos/{first}.jpg" if first is not None else None,
        telegram=f"https://t.me/share/url?url={quote(url, safe='')}&text={quote(message)}",
        whatsapp=f"https://wa.me/?text={quote(f'{message} {url}')}",
        wechat_qr=qr_svg(url),
    )
