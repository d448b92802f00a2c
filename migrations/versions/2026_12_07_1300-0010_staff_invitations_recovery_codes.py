"""staff: invitations with state and approval, recovery codes, admin-role requests, last sign-in

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_sign_in_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("staff_invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(
            sa.Column("revoked_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("used_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("needs_approval", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("approved_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_staff_invites_created_by_staff_users"),
            "staff_users",
            ["created_by"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_staff_invites_staff_id_staff_users"),
            "staff_users",
            ["staff_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_staff_invites_used_by_staff_users"), "staff_users", ["used_by"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_staff_invites_approved_by_staff_users"),
            "staff_users",
            ["approved_by"],
            ["id"],
        )
    # Links made before this revision had no revocation: the first-admin ones still pending are
    # revoked, so that only the link printed at the next start is live.
    op.execute(
        "UPDATE staff_invites SET revoked_at = CURRENT_TIMESTAMP "
        "WHERE used_at IS NULL AND created_by IS NULL"
    )
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_recovery_codes_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_staff_recovery_codes_code_hash")),
    )
    with op.batch_alter_table("staff_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_recovery_codes_staff_id"), ["staff_id"], unique=False
        )
    op.create_table(
        "staff_role_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["staff_users.id"],
            name=op.f("fk_staff_role_requests_decided_by_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["staff_users.id"],
            name=op.f("fk_staff_role_requests_requested_by_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_role_requests_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_role_requests")),
    )
    with op.batch_alter_table("staff_role_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_role_requests_staff_id"), ["staff_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_role_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_role_requests_staff_id"))
    op.drop_table("staff_role_requests")
    with op.batch_alter_table("staff_recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_recovery_codes_staff_id"))
    op.drop_table("staff_recovery_codes")
    with op.batch_alter_table("staff_invites", schema=None) as batch_op:
        for name in ("approved_by", "used_by", "staff_id", "created_by"):
            batch_op.drop_constraint(f"fk_staff_invites_{name}_staff_users", type_="foreignkey")
        for name in (
            "approved_by",
            "needs_approval",
            "used_by",
            "staff_id",
            "revoked_at",
            "reason",
            "created_by",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("last_sign_in_at")
