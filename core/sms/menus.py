"""Each tipster's last numbered menu on SMS (by tipster id, never the number): what a typed "2"
stands for. Written in the transaction that queues the menu's text, read in the one that
handles the reply."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SmsMenu
from storage.types import utcnow

MENUS = cast(Table, SmsMenu.__table__)


async def remember(session: AsyncSession, tipster_id: int, choices: dict[str, str]) -> None:
    """Keep these choices as the person's menu (none: forget it); never commits."""
    if not choices:
        await session.execute(delete(MENUS).where(MENUS.c.tipster_id == tipster_id))
        return
    dialect = session.get_bind().dialect.name
    insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(MENUS)
    values = {"tipster_id": tipster_id, "choices": choices, "updated_at": utcnow()}
    stmt = insert.values(**values).on_conflict_do_update(
        index_elements=["tipster_id"],
        set_={"choices": insert.excluded.choices, "updated_at": insert.excluded.updated_at},
    )
    await session.execute(stmt)


async def menu_of(session: AsyncSession, tipster_id: int) -> dict[str, str]:
    """The tipster's last menu (number -> button data), empty when there is none."""
    stmt = select(MENUS.c.choices).where(MENUS.c.tipster_id == tipster_id)
    choices = await session.scalar(stmt)
    return dict(choices or {})
