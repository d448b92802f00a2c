"""queue: partial indexes over open tips (the whole queue, and per case)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 14:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('received', 'under_review', 'needs_info')"


def upgrade() -> None:
    # Decided tips pile up at the top of ix_tips_queue over months; these skip them entirely.
    op.create_index(
        "ix_tips_queue_open",
        "tips",
        [sa.text("urgent DESC"), sa.text("score DESC"), "created_at"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index(
        "ix_tips_case_queue",
        "tips",
        ["case_id", sa.text("urgent DESC"), sa.text("score DESC"), "created_at"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_tips_case_queue", table_name="tips")
    op.drop_index("ix_tips_queue_open", table_name="tips")
