"""police recipients: second-person approval and per-recipient webhook secret generations

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Recipients added before the two-person rule stay pending (approved_by NULL) until someone
    # other than their adder approves them: one person alone could have added any of them.
    with op.batch_alter_table("police_recipients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("approved_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("secret_generation", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "previous_secret_until", storage.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_police_recipients_approved_by_staff_users"),
            "staff_users",
            ["approved_by"],
            ["id"],
        )
    # Failure reasons used to keep the start of the receiver's answer; keep only the status.
    outbox = sa.table(
        "outbox_messages",
        sa.column("channel", sa.String),
        sa.column("last_error", sa.Text),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(outbox.c.last_error)
        .where(outbox.c.channel == "webhook", outbox.c.last_error.like("%HTTP %"))
        .distinct()
    ).all()
    for (error,) in rows:
        start = error.index("HTTP ")
        code = error[start + 5 : start + 8]
        bind.execute(
            outbox.update()
            .where(outbox.c.channel == "webhook", outbox.c.last_error == error)
            .values(last_error=f"{error[:start]}HTTP {code} (answer not kept)")
        )


def downgrade() -> None:
    with op.batch_alter_table("police_recipients", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_police_recipients_approved_by_staff_users"), type_="foreignkey"
        )
        batch_op.drop_column("previous_secret_until")
        batch_op.drop_column("secret_generation")
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by")
