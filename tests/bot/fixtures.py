"""Helpers for the tipster transcripts: seeded cases, rows to assert on, a walk to the summary."""

from __future__ import annotations

import io
from typing import Any

from aiogram.fsm.storage.base import StorageKey
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Case, FsmState, InboxUpdate, Tip, TipPhoto, Tipster
from tests.bot.harness import Transcript


def jpeg(seed: int = 0) -> bytes:
    """A small real JPEG (distinct per seed)."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (seed * 40 % 256, 90, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


async def seed_case(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    *,
    status: str = "active",
    lat: float | None = None,
    lon: float | None = None,
) -> Case:
    """A case as the moderation side would have it."""
    async with sessions() as session:
        case = Case(full_name=name, status=status, last_seen_lat=lat, last_seen_lon=lon)
        session.add(case)
        await session.commit()
        return case


async def all_tips(sessions: async_sessionmaker[AsyncSession]) -> list[Tip]:
    """Every tip row, oldest first."""
    async with sessions() as session:
        return list((await session.scalars(select(Tip).order_by(Tip.id))).all())


async def photos_of(sessions: async_sessionmaker[AsyncSession], tip_id: int) -> list[TipPhoto]:
    """The files of a tip in arrival order."""
    async with sessions() as session:
        stmt = select(TipPhoto).where(TipPhoto.tip_id == tip_id).order_by(TipPhoto.id)
        return list((await session.scalars(stmt)).all())


async def all_photos(sessions: async_sessionmaker[AsyncSession]) -> list[TipPhoto]:
    """Every tip_photos row."""
    async with sessions() as session:
        return list((await session.scalars(select(TipPhoto).order_by(TipPhoto.id))).all())


async def tipsters(sessions: async_sessionmaker[AsyncSession]) -> list[Tipster]:
    """Every tipster."""
    async with sessions() as session:
        return list((await session.scalars(select(Tipster).order_by(Tipster.id))).all())


async def fsm_state(chat: Transcript, chat_id: int) -> str | None:
    """The stored conversation state of a private chat (None when idle)."""
    key = chat.dispatcher.storage.keys.build(
        StorageKey(bot_id=chat.bot.id, chat_id=chat_id, user_id=chat_id)
    )
    async with chat.sessions() as session:
        return await session.scalar(select(FsmState.state).where(FsmState.key == key))


async def assert_all_processed(chat: Transcript) -> None:
    """Every admitted update was handled without an error (nothing crashed, nothing parked)."""
    async with chat.sessions() as session:
        rows = (await session.execute(select(InboxUpdate.status, InboxUpdate.last_error))).all()
    assert rows and all(status == "done" for status, _ in rows), rows


def texts_in(chat: Transcript, chat_id: int) -> list[str]:
    """Every text or caption the bot sent to a chat."""
    return [str(m.get("text") or m.get("caption") or "") for m in chat.messages(chat_id)]


def count_containing(chat: Transcript, chat_id: int, fragment: str) -> int:
    """How many of the bot's messages contain a fragment."""
    return sum(fragment in text for text in texts_in(chat, chat_id))


def sent_ref(text: str) -> str:
    """The reference in a 'your report was sent' message."""
    for word in text.replace("\n", " ").replace("：", " ").split():
        if len(word) == 9 and word[4] == "-":
            return word
    raise AssertionError(f"no reference in {text!r}")


async def walk_to_summary(chat: Transcript, fake: Any, chat_id: int, *, text: str) -> None:
    """Text, unknown time, no place, no files, anonymous: the summary is on screen."""
    await chat.send(fake.text_message(chat_id, text))
    await chat.press(chat_id, "I don't know")
    await chat.press(chat_id, "Skip")  # where
    await chat.press(chat_id, "Skip")  # media
    await chat.press(chat_id, "No, keep me anonymous")
    assert "Please check your report" in chat.last_text(chat_id)
