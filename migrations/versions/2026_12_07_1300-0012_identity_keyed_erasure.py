"""identity only in the vault: keyed lookup keys, reduced processed updates, erasure requests

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 13:00:00+00:00

Rows written before this revision held Telegram ids in plain text: `tips.source_key`
(`telegram:<chat>:<draft>`), `cases.source_key` (`telegram-case:<chat>:<draft>`),
`fsm_states.key` (`fsm:<chat>:<user>:<destiny>`) and `inbox_updates` (the chat id, and every
processed update's whole payload). They are rewritten as the code now writes them: keyed hashes
under the vault's lookup key, processed updates reduced to nothing. That needs the vault key
(`storage.migrate.upgrade(..., vault_key=...)`); a database with such rows and no key stops
with a clear message. The downgrade cannot turn hashes back into ids.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.identity.vault import keyed_hash, lookup_key_of
from storage.migrate import VaultKeyNeeded

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _create_erasure_requests() -> None:
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tipster_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["staff_users.id"],
            name=op.f("fk_erasure_requests_decided_by_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["staff_users.id"],
            name=op.f("fk_erasure_requests_requested_by_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["tipster_id"],
            ["tipsters.id"],
            name=op.f("fk_erasure_requests_tipster_id_tipsters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
    )


def _old_source_keys(conn: sa.Connection, table: str, prefix: str) -> list[tuple[int, str]]:
    rows = conn.execute(
        sa.text(f"SELECT id, source_key FROM {table} WHERE source_key LIKE :p"),  # noqa: S608
        {"p": f"{prefix}:%:%"},
    ).all()
    return [(row_id, key) for row_id, key in rows]


def _old_fsm_keys(conn: sa.Connection) -> list[str]:
    keys = conn.execute(sa.text("SELECT key FROM fsm_states")).scalars().all()
    # New keys are "fsm:" and 64 hex digits; everything else was aiogram's plain key.
    return [key for key in keys if not (len(key) == 68 and key.startswith("fsm:"))]


def _chat_key(lookup: bytes, chat_id: int) -> int:
    digest = hmac.digest(lookup, b"inbox-chat:%d" % chat_id, "sha256")
    return int.from_bytes(digest[:8], "big") >> 1


def _rewrite_sources(conn: sa.Connection, lookup: bytes) -> None:
    for table, prefix, purpose in (
        ("tips", "telegram", "tip-source"),
        ("cases", "telegram-case", "case-source"),
    ):
        for row_id, key in _old_source_keys(conn, table, prefix):
            chat_and_draft = key.split(":", 1)[1]
            new = f"{prefix}:{keyed_hash(lookup, purpose, chat_and_draft)}"
            conn.execute(
                sa.text(f"UPDATE {table} SET source_key = :new WHERE id = :id"),  # noqa: S608
                {"new": new, "id": row_id},
            )


def _rewrite_fsm(conn: sa.Connection, lookup: bytes) -> None:
    for key in _old_fsm_keys(conn):
        parts = key.split(":")
        if len(parts) == 4 and parts[0] == "fsm":
            _, chat, user, destiny = parts
            new = "fsm:" + keyed_hash(lookup, "fsm", f"{chat}:{user}:{destiny}")
            conn.execute(
                sa.text("UPDATE fsm_states SET key = :new WHERE key = :old"),
                {"new": new, "old": key},
            )
        else:  # a thread or business chat's state: forgotten rather than kept in the clear
            conn.execute(sa.text("DELETE FROM fsm_states WHERE key = :old"), {"old": key})


def _rewrite_inbox(conn: sa.Connection, lookup: bytes | None) -> None:
    # Processed updates need nothing of their content any more.
    conn.execute(
        sa.text("UPDATE inbox_updates SET payload = :empty, chat_id = NULL WHERE status = 'done'"),
        {"empty": "{}"},
    )
    if lookup is None:
        return
    rows = conn.execute(
        sa.text("SELECT id, chat_id FROM inbox_updates WHERE chat_id IS NOT NULL")
    ).all()
    for row_id, chat in rows:
        conn.execute(
            sa.text("UPDATE inbox_updates SET chat_id = :chat WHERE id = :id"),
            {"chat": _chat_key(lookup, int(chat)), "id": row_id},
        )


def _needs_key(conn: sa.Connection) -> bool:
    pending_chats = conn.execute(
        sa.text("SELECT count(*) FROM inbox_updates WHERE chat_id IS NOT NULL")
    ).scalar_one()
    return bool(
        pending_chats
        or _old_source_keys(conn, "tips", "telegram")
        or _old_source_keys(conn, "cases", "telegram-case")
        or _old_fsm_keys(conn)
    )


def upgrade() -> None:
    _create_erasure_requests()
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # What the rewrite replaces is zeroed in the file, not left in free space.
        conn.exec_driver_sql("PRAGMA secure_delete=ON")
    key = op.get_context().config.attributes.get("vault_key") if op.get_context().config else None
    _rewrite_inbox(conn, None)  # done rows first: only pending ones then need the key
    if not _needs_key(conn):
        return
    if not key:
        raise VaultKeyNeeded(
            "migration 0012 rewrites Telegram ids as keyed hashes and needs the vault key: "
            "set TIPLINE_VAULT_KEY (or keep var/vault.key) and run `tipline db upgrade` again"
        )
    lookup = lookup_key_of(key)
    _rewrite_sources(conn, lookup)
    _rewrite_fsm(conn, lookup)
    _rewrite_inbox(conn, lookup)


def downgrade() -> None:
    # Keyed hashes cannot be turned back into Telegram ids: the rewritten rows stay as they are.
    op.drop_table("erasure_requests")
