"""inbox: updates whose callback query the webhook already answered in its response

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows admitted before this column existed were answered by the processor: false.
    with op.batch_alter_table("inbox_updates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("acknowledged", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox_updates", schema=None) as batch_op:
        batch_op.drop_column("acknowledged")
