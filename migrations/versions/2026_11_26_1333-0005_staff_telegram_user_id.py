"""staff: the Telegram user who presses an account's buttons in the moderators' group

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 13:33:05.795778+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_user_id", sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_staff_users_telegram_user_id"), ["telegram_user_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_staff_users_telegram_user_id"), type_="unique")
        batch_op.drop_column("telegram_user_id")
