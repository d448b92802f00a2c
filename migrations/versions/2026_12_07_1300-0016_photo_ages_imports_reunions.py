"""photo ages and age-progressed images, imported people's provenance, confirmation and reunion,
name keys for duplicate matching, families' scam reports

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-07 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0016"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_photos", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="photo", nullable=False)
        )
        batch_op.add_column(sa.Column("age_months", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("taken_on", sa.Date(), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("source_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("source_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("linked_case_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_cases_source", ["source_name", "source_id"])
        batch_op.create_foreign_key(
            "fk_cases_linked_case_id_cases",
            "cases",
            ["linked_case_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("case_matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_type", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("evidence_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("evidence_ref", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("confirmed_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("confirmed_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("reunion_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("reunion_place", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reunion_note", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("reunion_public", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("reunion_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_case_matches_confirmed_by_staff_users", "staff_users", ["confirmed_by"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_case_matches_reunion_by_staff_users", "staff_users", ["reunion_by"], ["id"]
        )
    op.create_table(
        "people_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name="fk_people_imports_created_by_staff_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_people_imports"),
    )
    op.create_table(
        "case_name_keys",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_case_name_keys_case_id_cases", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "key", name="pk_case_name_keys"),
    )
    op.create_index("ix_case_name_keys_key", "case_name_keys", ["key"], unique=False)
    _key_existing_cases()
    op.create_table(
        "scam_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forward_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_scam_reports_case_id_cases", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["forward_id"],
            ["forwards.id"],
            name="fk_scam_reports_forward_id_forwards",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_scam_reports_subscription_id_subscriptions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name="fk_scam_reports_tip_id_tips", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_scam_reports"),
        sa.UniqueConstraint("forward_id", "subscription_id", name="uq_scam_reports_forward_sub"),
    )
    op.create_index("ix_scam_reports_case_id", "scam_reports", ["case_id"], unique=False)
    op.create_index(
        "ix_scam_reports_subscription_id", "scam_reports", ["subscription_id"], unique=False
    )


def _key_existing_cases() -> None:
    """Name keys for the cases already registered (duplicate matching reads only keyed cases)."""
    from core.cases.name_keys import name_keys  # the same function the application keys with

    connection = op.get_bind()
    keys = sa.table("case_name_keys", sa.column("case_id"), sa.column("key"))
    cases = connection.execute(sa.text("SELECT id, full_name, nicknames FROM cases")).all()
    rows = [
        {"case_id": case.id, "key": key}
        for case in cases
        for key in name_keys(case.full_name or "", case.nicknames or "").all
    ]
    for start in range(0, len(rows), 5000):
        connection.execute(keys.insert(), rows[start : start + 5000])


def downgrade() -> None:
    op.drop_index("ix_scam_reports_subscription_id", table_name="scam_reports")
    op.drop_index("ix_scam_reports_case_id", table_name="scam_reports")
    op.drop_table("scam_reports")
    op.drop_index("ix_case_name_keys_key", table_name="case_name_keys")
    op.drop_table("case_name_keys")
    op.drop_table("people_imports")
    with op.batch_alter_table("case_matches", schema=None) as batch_op:
        batch_op.drop_constraint("fk_case_matches_reunion_by_staff_users", type_="foreignkey")
        batch_op.drop_constraint("fk_case_matches_confirmed_by_staff_users", type_="foreignkey")
        for name in (
            "reunion_by",
            "reunion_public",
            "reunion_note",
            "reunion_place",
            "reunion_on",
            "confirmed_at",
            "confirmed_by",
            "evidence_ref",
            "evidence_on",
            "evidence_type",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint("fk_cases_linked_case_id_cases", type_="foreignkey")
        batch_op.drop_constraint("uq_cases_source", type_="unique")
        for name in ("linked_case_id", "source_date", "source_id", "source_name"):
            batch_op.drop_column(name)
    with op.batch_alter_table("case_photos", schema=None) as batch_op:
        for name in ("taken_on", "age_months", "kind"):
            batch_op.drop_column(name)
