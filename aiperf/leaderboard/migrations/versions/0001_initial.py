"""The initial schema: submitters, submissions and the audit log, as in ``db.py`` at its start.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the three tables with their keys, unique constraints and indexes."""
    op.create_table(
        "submitters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("organiser", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_submitters"),
        sa.UniqueConstraint("name", name="uq_submitters_name"),
        sa.UniqueConstraint("token_hash", name="uq_submitters_token_hash"),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("submitter_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("spec_name", sa.String(64), nullable=True),
        sa.Column("rules_version", sa.Integer(), nullable=True),
        sa.Column("division", sa.String(20), nullable=True),
        sa.Column("hardware_verified", sa.Boolean(), nullable=False),
        sa.Column("system_name", sa.String(200), nullable=True),
        sa.Column("accelerator", sa.String(200), nullable=True),
        sa.Column("nodes", sa.Integer(), nullable=True),
        sa.Column("accelerator_count", sa.Integer(), nullable=True),
        sa.Column("regulated_score", sa.Float(), nullable=True),
        sa.Column("flops", sa.Float(), nullable=True),
        sa.Column("flops_per_watt", sa.Float(), nullable=True),
        sa.Column("flops_per_accelerator", sa.Float(), nullable=True),
        sa.Column("utilisation", sa.Float(), nullable=True),
        sa.Column("best_test_accuracy", sa.Float(), nullable=True),
        sa.Column("verdict", sa.JSON(), nullable=True),
        sa.Column("system", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_submissions"),
        sa.ForeignKeyConstraint(
            ["submitter_id"], ["submitters.id"], name="fk_submissions_submitter_id_submitters"
        ),
        sa.UniqueConstraint("sha256", name="uq_submissions_sha256"),
    )
    for column in ("submitter_id", "status", "created", "system_name", "regulated_score"):
        op.create_index(f"ix_submissions_{column}", "submissions", [column])
    op.create_index(
        "ix_submissions_ranking",
        "submissions",
        [
            "status",
            "spec_name",
            "rules_version",
            "division",
            "hardware_verified",
            "regulated_score",
        ],
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name="fk_audit_log_submission_id_submissions"
        ),
    )


def downgrade() -> None:
    """Drop the three tables, the referencing ones first."""
    op.drop_table("audit_log")
    op.drop_index("ix_submissions_ranking", table_name="submissions")
    for column in ("submitter_id", "status", "created", "system_name", "regulated_score"):
        op.drop_index(f"ix_submissions_{column}", table_name="submissions")
    op.drop_table("submissions")
    op.drop_table("submitters")
