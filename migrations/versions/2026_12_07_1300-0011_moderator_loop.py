"""moderator's loop: answered tips, who asked, face verdicts, score history, rescoring

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_OPEN = "status IN ('received', 'under_review', 'needs_info')"
OPEN = "status IN ('received', 'under_review', 'needs_info', 'answered')"
RESCORE_DUE = "rescore_reason IS NOT NULL"


def _queue_indexes(where: str, *, answered: bool) -> None:
    rank = [sa.text("urgent DESC"), sa.text("score DESC")]
    if answered:
        rank.append(sa.text("answered DESC"))
    for name, lead in (("ix_tips_queue_open", []), ("ix_tips_case_queue", ["case_id"])):
        op.create_index(
            name,
            "tips",
            [*lead, *rank, "created_at"],
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def _drop_queue_indexes() -> None:
    op.drop_index("ix_tips_case_queue", table_name="tips")
    op.drop_index("ix_tips_queue_open", table_name="tips")


def upgrade() -> None:
    _drop_queue_indexes()
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("answered", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("asked_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rescore_reason", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(
            "fk_tips_asked_by_staff_users", "staff_users", ["asked_by"], ["id"]
        )
        batch_op.create_index("ix_tips_asked_by", ["asked_by"], unique=False)
    _queue_indexes(OPEN, answered=True)
    op.create_index(
        "ix_tips_rescore_due",
        "tips",
        ["id"],
        postgresql_where=sa.text(RESCORE_DUE),
        sqlite_where=sa.text(RESCORE_DUE),
    )
    op.create_table(
        "face_verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_face_verdicts_case_id_cases", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name="fk_face_verdicts_staff_id_staff_users"
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name="fk_face_verdicts_tip_id_tips", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_face_verdicts"),
        sa.UniqueConstraint("tip_id", "case_id", name="uq_face_verdicts_tip_case"),
    )
    op.create_index("ix_face_verdicts_case_id", "face_verdicts", ["case_id"], unique=False)
    op.create_table(
        "tip_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name="fk_tip_scores_tip_id_tips", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tip_scores"),
    )
    op.create_index("ix_tip_scores_tip_at", "tip_scores", ["tip_id", "at"], unique=False)
    # Tips waiting for an answer when this ran keep waiting (needs_info): nothing to backfill.


def downgrade() -> None:
    op.drop_index("ix_tip_scores_tip_at", table_name="tip_scores")
    op.drop_table("tip_scores")
    op.drop_index("ix_face_verdicts_case_id", table_name="face_verdicts")
    op.drop_table("face_verdicts")
    op.drop_index("ix_tips_rescore_due", table_name="tips")
    _drop_queue_indexes()
    # Answered tips go back to waiting for the answer the old code never looked at.
    op.execute("UPDATE tips SET status = 'needs_info' WHERE status = 'answered'")
    with op.batch_alter_table("tips", schema=None) as batch_op:
        batch_op.drop_index("ix_tips_asked_by")
        batch_op.drop_constraint("fk_tips_asked_by_staff_users", type_="foreignkey")
        batch_op.drop_column("rescore_reason")
        batch_op.drop_column("asked_by")
        batch_op.drop_column("answered")
    _queue_indexes(OLD_OPEN, answered=False)
