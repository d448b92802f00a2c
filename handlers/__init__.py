"""Conversations: the engine (engine/), the flows by domain (report/, newcase/, alerts/, and
common/ for the steps they share), Telegram's side (telegram/), the other private-chat commands
(tipster/, channel-free; their Telegram handlers in tipster/telegram/) and the moderators' group
(moderators.py).

Each router module has a `build_router()` that makes a fresh Router (a Router can join one
Dispatcher only, and tests build many).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the flows load through this package: importing them loads no aiogram
    from aiogram import Router


def build_routers() -> list[Router]:
    """Every router of the bot, in the order they are tried.

    The report's buttons and steps come first: they are most of the traffic, and every router
    tried before the one that takes an update costs its filters. They take only private chats
    within the rate limit (the limits router after them answers the rest), no /command (so
    /cancel, /status or /newcase still work on any step), and nothing another router wants: the
    report's own buttons, text in the report's states, and text, photos or places with no
    conversation going on. The fallback comes last
    and answers whatever no one else took. /newcase comes before /start: it works mid-report
    (the report waits and comes back after), and /cancel during it cancels the case, not the
    report. /alerts comes before /start too, so /cancel while signing up stops only the sign-up.
    """
    from handlers import moderators
    from handlers.alerts import telegram as alerts
    from handlers.newcase import telegram as newcase
    from handlers.report import telegram as report
    from handlers.tipster.telegram import (
        answers,
        case_card,
        fallback,
        family,
        forget,
        language,
        limits,
        start,
        status,
    )

    return [
        report.build_router(),
        limits.build_router(),
        moderators.build_router(),
        family.build_router(),
        newcase.build_router(),
        case_card.build_router(),
        alerts.build_router(),
        start.build_router(),
        language.build_router(),
        forget.build_router(),
        status.build_router(),
        answers.build_router(),
        fallback.build_router(),
    ]
