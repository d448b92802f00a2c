"""/case CODE: the public card of a case (our clean photo, public fields), and its report button.

Only public cases have a card; an unverified, closed or unknown code gets the same answer. A card
with a photo is handed back to the channel, which sends it through the outbox like every photo
the bot sends (the relay reads our display copy from the store), so a retried update sends it once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.people import PublicPerson, get_person
from core.cases.public import get_public_case
from core.delivery.outbox import CAPTION_LIMIT
from core.i18n import Texts
from handlers.engine.channel import Keyboard, button, cut, keyboard
from handlers.engine.wizard import Conversation
from handlers.report.flow import Turn

CODE_CHARS = 40
CASE_REPORT = "cr"
"""The card's "Report a sighting" button: cr:<case code>."""
TEXT_CHARS = 300
"""Marks and description are cut to this on the card, so the caption fits 1024 characters."""
SEXES = {"female": "case.sex_female", "male": "case.sex_male"}


def _cut(text: str) -> str:
    return cut(" ".join(text.split()), TEXT_CHARS)


def _facts(person: PublicPerson, texts: Texts) -> list[str]:
    lines = []
    if person.age_years is not None:
        lines.append(texts("case.age", age=person.age_years))
    if person.sex in SEXES:
        lines.append(texts(SEXES[person.sex]))
    place = person.last_seen_place or texts("case.place_unknown")
    if person.last_seen_at is not None:
        lines.append(texts("case.last_seen", place=place, date=f"{person.last_seen_at:%Y-%m-%d}"))
    else:
        lines.append(texts("case.last_seen_place", place=place))
    if person.marks:
        lines.append(texts("case.marks", marks=_cut(person.marks)))
    if person.description:
        lines.append(_cut(person.description))
    return lines


def card_text(person: PublicPerson, texts: Texts, *, base_url: str) -> str:
    """The card: what it is, the public facts, the web page and the code (at most a caption)."""
    title = "case.title_found_person" if person.kind == "found" else "case.title_missing"
    lines = [texts(title), person.full_name, *_facts(person, texts)]
    if person.found:
        lines.insert(0, texts("case.found_notice"))
    if base_url:
        lines.append(texts("case.link", url=f"{base_url.rstrip('/')}/people/{person.ref}"))
    lines.append(texts("case.code", ref=person.ref))
    return cut("\n".join(lines), CAPTION_LIMIT)


@dataclass(frozen=True, slots=True)
class PhotoCard:
    """A card to send as a photo: our display copy's SHA-256, the caption, its buttons."""

    display_sha256: str
    caption: str
    buttons: Keyboard


async def show_case(
    conversation: Conversation, session: AsyncSession, *, base_url: str, code: str
) -> PhotoCard | None:
    """Say the card of a public case, or the same neutral answer for anything else; a card
    with a photo is returned for the channel to send instead."""
    texts, code = conversation.texts, code.strip()[:CODE_CHARS]
    person = await get_person(session, ref=code) if code else None
    if person is None:
        await conversation.say(texts("case.not_public" if code else "case.usage"))
        return None
    text = card_text(person, texts, base_url=base_url)
    report = [] if person.found else [button(texts("case.button_report"), CASE_REPORT, person.ref)]
    if not person.photos:
        await conversation.say(text, keyboard(report))
        return None
    return PhotoCard(person.photos[0].display_sha256, text, keyboard(report))


async def report_on_card(conversation: Conversation, session: AsyncSession, *, code: str) -> None:
    """The card's "Report a sighting": a report about that case while it is public (a report in
    progress is kept and now names it)."""
    case = await get_public_case(session, code=code)
    if case is None:
        await conversation.say(conversation.texts("case.not_public"))
        return
    await (await Turn.of(conversation)).about_case(session, case, code)
