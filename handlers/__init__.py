"""aiogram routers: thin handlers that parse, call one use case in core/, and render.

Each module has a `build_router()` that makes a fresh Router (a Router can join one Dispatcher only,
and tests build many).
"""

from __future__ import annotations

from aiogram import Router


def build_routers() -> list[Router]:
    """Every router of the bot, in the order they are tried.

    Commands come before the report's steps, so /cancel or /status work on any step; family
    deep links come before /start's own; the fallback comes last and answers whatever no one
    else took. /newcase comes before /start and the report: it works mid-report (the report
    waits and comes back after), and /cancel during it cancels the case, not the report. /alerts
    comes before /start too, so /cancel while signing up stops only the sign-up.
    """
    from handlers import (
        alerts,
        answers,
        case_card,
        fallback,
        family,
        language,
        limits,
        moderators,
        newcase,
        report,
        report_steps,
        start,
        status,
    )

    return [
        limits.build_router(),
        moderators.build_router(),
        family.build_router(),
        newcase.build_router(),
        case_card.build_router(),
        alerts.build_router(),
        start.build_router(),
        language.build_router(),
        status.build_router(),
        answers.build_router(),
        report.build_router(),
        report_steps.build_router(),
        fallback.build_router(),
    ]
