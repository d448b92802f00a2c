"""Migration 0012 rewrites rows written before it: no Telegram id is left in a lookup key.

Sync tests: Alembic and the PostgreSQL fixture run their own event loops.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from core.identity.vault import Vault, telegram_source_key
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.models import Case, FsmState, InboxUpdate, Tip
from tests.conftest import BACKENDS
from tests.databases import fresh_database

CHAT = 987654321
UPDATE = {"update_id": 7, "message": {"chat": {"id": CHAT}, "from": {"first_name": "Meiling"}}}


def _rows_at_0009() -> list[tuple[str, dict]]:
    """Old-style rows as the schema of revision 0009 takes them (no model: models are at head)."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    stamps = {"created_at": now, "updated_at": now}
    tip = {"ref": "PXCX-P4XJ", "channel": "telegram", "status": "received", "text": "seen"}
    tip |= {"contact_allowed": False, "language": "en", "details": {}, "score": 0.0}
    tip |= {"score_parts": {}, "urgent": False, "source_key": f"telegram:{CHAT}:d1"}
    case = {"ref": "H4MZ22QC", "full_name": "Li Wei", "source_key": f"telegram-case:{CHAT}:d2"}
    case |= {"status": "submitted", "nicknames": "", "description": "", "languages": ""}
    inbox = {"attempts": 0, "received_at": now, "next_attempt_at": now}
    return [
        ("tips", tip | stamps),
        ("cases", case | stamps),
        (
            "fsm_states",
            {
                "key": f"fsm:{CHAT}:{CHAT}:default",
                "state": "Report:what",
                "data": {"a": 1},
                "updated_at": now,
            },
        ),
        (
            "fsm_states",
            {
                "key": f"fsm:{CHAT}:55:{CHAT}:default",
                "state": "Report:what",
                "data": {},
                "updated_at": now,
            },
        ),
        (
            "inbox_updates",
            {"update_id": 7, "chat_id": CHAT, "payload": UPDATE, "status": "done"} | inbox,
        ),
        (
            "inbox_updates",
            {"update_id": 8, "chat_id": CHAT, "payload": UPDATE, "status": "pending"} | inbox,
        ),
    ]


async def _old_rows(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for table, row in _rows_at_0009():
                columns = [
                    sa.column(name, sa.JSON if isinstance(v, dict) else None)
                    for name, v in row.items()
                ]
                await connection.execute(sa.insert(sa.table(table, *columns)).values(row))
    finally:
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
        # PostgreSQL undoes the whole upgrade; SQLite keeps the revisions before 0012.
        assert migrate.current_revision_sync(url) in {"0009", "0011"}
        assert asyncio.run(_read(url))["tips"] == [f"telegram:{CHAT}:d1"]  # nothing half-done
