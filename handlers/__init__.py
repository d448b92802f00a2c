"""aiogram routers: thin handlers that parse, call one use case in core/, and render.

Each module has a `build_router()` that makes a fresh Router (a Router can join one Dispatcher only,
and tests build many).
"""

from __future__ import annotations

from aiogram import Router


def build_routers() -> list[Router]:
    """Every router of the bot, in the order they are tried."""
    from handlers import limits, start

    return [limits.build_router(), start.build_router()]
