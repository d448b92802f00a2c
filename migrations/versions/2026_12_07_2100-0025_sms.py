"""SMS: an inbox of admitted text messages (sender keyed and sealed, never plain), the numbers
that opted out (STOP), and each person's last numbered menu

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("sender_key", sa.String(length=64), nullable=False),
        sa.Column("sealed_sender", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbox")),
        sa.UniqueConstraint("message_sid", name=op.f("uq_sms_inbox_message_sid")),
    )
    op.create_index("ix_sms_inbox_status_next", "sms_inbox", ["status", "next_attempt_at"])
    op.create_index("ix_sms_inbox_sender_received", "sms_inbox", ["sender_key", "received_at"])
    op.create_table(
        "sms_opt_outs",
        sa.Column("sender_key", sa.String(length=64), nullable=False),
        sa.Column("opted_out_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender_key", name=op.f("pk_sms_opt_outs")),
    )
    op.create_table(
        "sms_menus",
        sa.Column("tipster_id", sa.Integer(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tipster_id"],
            ["tipsters.id"],
            name=op.f("fk_sms_menus_tipster_id_tipsters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tipster_id", name=op.f("pk_sms_menus")),
    )


def downgrade() -> None:
    op.drop_table("sms_menus")
    op.drop_table("sms_opt_outs")
    op.drop_index("ix_sms_inbox_sender_received", table_name="sms_inbox")
    op.drop_index("ix_sms_inbox_status_next", table_name="sms_inbox")
    op.drop_table("sms_inbox")
