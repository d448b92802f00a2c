"""/case CODE: the public card of a case (our clean photo, public fields), and its report button.

Only public cases have a card; an unverified, closed or unknown code gets the same answer. The
photo goes out through the outbox like every photo the bot sends (the relay reads our display
copy from the store), so a retried update sends it once.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.people import PublicPerson, get_person
from core.cases.public import get_public_case
from core.delivery.outbox import CAPTION_LIMIT, enqueue, telegram_photo, tipster_recipient
from core.i18n import Texts
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.report.flow import Turn
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import PrivateChat
from handlers.telegram.middleware import converse
from storage.models import Tipster

TEXT_CHARS = 300
"""Marks and description are cut to this on the card, so the caption fits 1024 characters."""
SEXES = {"female": "case.sex_female", "male": "case.sex_male"}


class CaseReport(CallbackData, prefix="cr"):
    """ "Report a sighting" on a case card."""

    ref: str


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


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
    text = "\n".join(lines)
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"


async def show_case(
    message: Message,
    *,
    command: CommandObject,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """The card of a public case; anything else gets the same neutral answer."""
    code = (command.args or "").strip()[:40]
    person = await get_person(session, ref=code) if code else None
    if person is None:
        await message.answer(texts("case.not_public" if code else "case.usage"))
        return
    text = card_text(person, texts, base_url=services.base_url)
    report = [] if person.found else [(texts("case.button_report"), _report_data(person.ref))]
    if not person.photos:
        rows = [[InlineKeyboardButton(text=label, callback_data=data)] for label, data in report]
        await message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
        return
    payload = telegram_photo(
        person.photos[0].display_sha256, text, buttons=[report] if report else None
    )
    key = f"case-card:{tipster.id}:{message.message_id}"
    await enqueue(
        session,
        channel="telegram",
        recipient=tipster_recipient(tipster.id),
        payload=payload,
        key=key,
    )


def _report_data(ref: str) -> str:
    return CaseReport(ref=ref).pack()


async def report_on_case(
    query: CallbackQuery,
    callback_data: CaseReport,
    conversation: Conversation,
    session: AsyncSession,
) -> None:
    """Start a report about the case on the card (as a poster's link does); a report in
    progress is kept and now names this case."""
    await acknowledge(query)
    turn = await Turn.of(conversation)
    case = await get_public_case(session, code=callback_data.ref)
    if case is None:
        await turn.say(turn.texts("case.not_public"))
        return
    await turn.about_case(session, case, callback_data.ref)


def build_router() -> Router:
    """/case and the card's report button (private chats only)."""
    router = converse(Router(name="case_card"))
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    router.message.register(show_case, Command("case"))
    router.callback_query.register(report_on_case, CaseReport.filter())
    return router
