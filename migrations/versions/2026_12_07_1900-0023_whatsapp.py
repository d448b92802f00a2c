"""WhatsApp: an inbox of admitted messages (sender keyed and sealed, never plain), and the
WhatsApp message id and delivery status on outbox rows

Revision ID: 0023
Revises: 0018
Create Date: 2026-12-07 19:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0023"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_inbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_whatsapp_inbox_message_id")),
    )
    op.create_index(
        "ix_whatsapp_inbox_status_next", "whatsapp_inbox", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_whatsapp_inbox_sender_received", "whatsapp_inbox", ["sender_key", "received_at"]
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("delivery_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("delivery_error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("delivery_status_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_messages_external_id"), ["external_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_external_id"))
        for name in ("delivery_status_at", "delivery_error", "delivery_status", "external_id"):
            batch_op.drop_column(name)
    op.drop_index("ix_whatsapp_inbox_sender_received", table_name="whatsapp_inbox")
    op.drop_index("ix_whatsapp_inbox_status_next", table_name="whatsapp_inbox")
    op.drop_table("whatsapp_inbox")
