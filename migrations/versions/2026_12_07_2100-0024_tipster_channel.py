"""The channel a tipster is reached on (telegram, whatsapp...), set when they first write; rows
from before it are Telegram's

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tipsters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=16), nullable=False, server_default="telegram")
        )


def downgrade() -> None:
    with op.batch_alter_table("tipsters", schema=None) as batch_op:
        batch_op.drop_column("channel")
