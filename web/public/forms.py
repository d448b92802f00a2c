"""What the public web forms (/report, /people/new) share: the page language, and reading a POST
that must carry a valid CSRF token, a one-time nonce and (when sent again) the photos an earlier
send kept, signed so nobody can slip someone else's quarantined file into their form."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from core.tips.drafts import MAX_ATTACHMENTS, Attachment
from core.tips.web_intake import attachment
from web import csrf
from web.public.uploads import MalformedForm, ReceivedForm, read_form


@dataclass(frozen=True, slots=True)
class Refusal:
    """A POST that cannot go further: the refusal page's reason ("bad", "csrf") and status."""

    lang: str
    reason: str
    status: int


@dataclass(slots=True)
class PublicPost:
    """A POST that passed the CSRF, nonce and size checks."""

    received: ReceivedForm
    lang: str
    nonce: str
    source_key: str
    kept: list[Attachment]


def pick_language(request: Request, chosen: str = "") -> str:
    """The page's language: ?lang= (or the form's), else Accept-Language; zh* is zh-Hans."""
    wanted = chosen or request.query_params.get("lang", "")
    if wanted:
        return "zh-Hans" if wanted.lower().startswith("zh") else "en"
    ranked = []
    for position, item in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, quality = item.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith(("zh", "en")):
            return "zh-Hans" if tag.startswith("zh") else "en"
    return "en"


async def read_public_post(request: Request, *, secret: bytes) -> PublicPost | Refusal:
    """Read and authenticate a POST of a public form."""
    try:
        received = await read_form(request)
    except MalformedForm:
        return Refusal(pick_language(request), "bad", 400)
    lang = pick_language(request, received.get("lang"))
    if not csrf.is_valid(secret, request, received.get(csrf.FIELD)):
        return Refusal(lang, "csrf", 403)
    nonce = received.get("nonce")
    source_key = csrf.nonce_key(secret, nonce)
    kept = read_kept(secret, received.getlist("kept"))
    if source_key is None or kept is None:
        return Refusal(lang, "bad", 400)
    return PublicPost(received, lang, nonce, source_key, kept)


def sign_kept(secret: bytes, items: list[Attachment] | None) -> list[str]:
    """The kept photos as signed values for hidden fields."""
    return [csrf.signed(secret, "kept", _kept_value(item)) for item in items or []]


def _kept_value(item: Attachment) -> str:
    return f"{item.source_ref.removeprefix('quarantine:')}:{item.mime_type or ''}:{item.size or 0}"


def read_kept(secret: bytes, values: list[str]) -> list[Attachment] | None:
    """Photos accepted by an earlier send of this form; None if any was tampered with."""
    kept = []
    for value in values[:MAX_ATTACHMENTS]:
        plain = csrf.unsigned(secret, "kept", value)
        if plain is None:
            return None
        sha, mime, size = plain.split(":")
        kept.append(attachment(sha=sha, mime_type=mime or None, size=int(size)))
    return kept
