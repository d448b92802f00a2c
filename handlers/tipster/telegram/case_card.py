"""/case CODE and the card's report button on Telegram; a card with a photo goes through the
outbox as a sendPhoto of our display copy."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery.outbox import enqueue, telegram_photo, tipster_recipient
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.telegram.channel import acknowledge
from handlers.tipster import case_card as use
from handlers.tipster.telegram import private_router
from storage.models import Tipster


class CaseReport(CallbackData, prefix=use.CASE_REPORT):
    """ "Report a sighting" on a case card."""

    ref: str


async def on_case(
    message: Message,
    *,
    command: CommandObject,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """/case CODE; a photo card is sent once, even if the update is retried."""
    code, base_url = command.args or "", services.base_url
    card = await use.show_case(conversation, session, base_url=base_url, code=code)
    if card is None:
        return
    buttons = [[(b.label, b.data) for b in row] for row in card.buttons]
    payload = telegram_photo(card.display_sha256, card.caption, buttons=buttons or None)
    key = f"case-card:{tipster.id}:{message.message_id}"
    recipient = tipster_recipient(tipster.id)
    await enqueue(session, channel="telegram", recipient=recipient, payload=payload, key=key)


async def on_report(
    query: CallbackQuery,
    callback_data: CaseReport,
    conversation: Conversation,
    session: AsyncSession,
) -> None:
    """The card's "Report a sighting"."""
    await acknowledge(query)
    await use.report_on_card(conversation, session, code=callback_data.ref)


def build_router() -> Router:
    """/case and the card's report button (private chats only)."""
    router = private_router("case_card")
    router.message.register(on_case, Command("case"))
    router.callback_query.register(on_report, CaseReport.filter())
    return router
