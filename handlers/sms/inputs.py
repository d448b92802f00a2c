"""What an admitted text carries, read into the engine's plain input; a typed number becomes
the press of that choice of the person's last menu."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.sms.menus import menu_of
from core.sms.render import choice
from handlers.engine.inputs import Input, Press, Text, Unreadable, read_text

UNREADABLE = "sms.unreadable"


def read(kind: str, payload: dict[str, Any]) -> Input:
    """The text of an admitted message (a command when it is one: "/start", "取消")."""
    body = payload.get("body")
    if kind != "text" or not isinstance(body, str) or not body.strip():
        return Unreadable(UNREADABLE)
    return read_text(body)


async def resolve(session: AsyncSession, tipster_id: int, said: Input) -> Input:
    """A number on the person's last menu is that button's press; anything else is as read."""
    if not isinstance(said, Text):
        return said
    data = choice(said.text, await menu_of(session, tipster_id))
    return Press(data) if data is not None else said
