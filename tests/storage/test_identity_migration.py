"""Migration 0012 rewrites rows written before it: no Telegram id is left in a lookup key.

Sync tests: Alembic and the PostgreSQL fixture run their own event loops.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core.vault import Vault, telegram_source_key
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.models import Case, FsmState, InboxUpdate, Tip
from tests.conftest import BACKENDS
from tests.databases import fresh_database

CHAT = 987654321
UPDATE = {"update_id": 7, "message": {"chat": {"id": CHAT}, "from": {"first_name": "Meiling"}}}


async def _old_rows(url: str) -> None:
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session:
        session.add_all(
            [
                Tip(channel="telegram", source_key=f"telegram:{CHAT}:d1", text="seen"),
                Case(full_name="Li Wei", source_key=f"telegram-case:{CHAT}:d2"),
                FsmState(key=f"fsm:{CHAT}:{CHAT}:default", state="Report:what", data={"a": 1}),
                FsmState(key=f"fsm:{CHAT}:55:{CHAT}:default", state="Report:what", data={}),
                InboxUpdate(update_id=7, chat_id=CHAT, payload=UPDATE, status="done"),
                InboxUpdate(update_id=8, chat_id=CHAT, payload=UPDATE, status="pending"),
            ]
        )
        await session.commit()
    await engine.dispose()


async def _read(url: str) -> dict[str, list]:
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session:
        found = {
            "tips": (await session.scalars(select(Tip.source_key))).all(),
            "cases": (await session.scalars(select(Case.source_key))).all(),
            "fsm": (await session.execute(select(FsmState.key, FsmState.state))).all(),
            "inbox": (
                await session.execute(
                    select(InboxUpdate.chat_id, InboxUpdate.payload, InboxUpdate.status).order_by(
                        InboxUpdate.update_id
                    )
                )
            ).all(),
        }
    await engine.dispose()
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_old_style_rows_are_rewritten_with_keyed_hashes(backend, tmp_path):
    key = Vault.new_key()
    vault = Vault(key)
    with fresh_database(backend, tmp_path) as url:
        migrate.upgrade(url, "0009")
        asyncio.run(_old_rows(url))
        migrate.upgrade(url, "head", vault_key=key)
        found = asyncio.run(_read(url))
    assert found["tips"] == [telegram_source_key(vault, kind="tip", chat_id=CHAT, draft_id="d1")]
    assert found["cases"] == [telegram_source_key(vault, kind="case", chat_id=CHAT, draft_id="d2")]
    # The conversation carries on under the key the bot now builds; the thread's is forgotten.
    assert found["fsm"] == [(vault.conversation_key(chat_id=CHAT, user_id=CHAT), "Report:what")]
    assert found["inbox"] == [
        (None, {}, "done"),
        (vault.chat_key(CHAT), UPDATE, "pending"),  # kept until it is processed
    ]
    assert str(CHAT) not in repr(found["tips"] + found["cases"] + found["fsm"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_old_style_rows_without_the_vault_key_stop_the_upgrade_clearly(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        migrate.upgrade(url, "0009")
        asyncio.run(_old_rows(url))
        with pytest.raises(migrate.VaultKeyNeeded, match="needs the vault key"):
            migrate.upgrade(url, "head")
        assert migrate.current_revision_sync(url) == "0009"
        assert asyncio.run(_read(url))["tips"] == [f"telegram:{CHAT}:d1"]  # nothing half-done
