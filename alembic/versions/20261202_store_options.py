"""Stores of other kinds: each store's own options (an S3 bucket's endpoint, spool...).

Revision ID: d5a9e3b7c1f8
Revises: c3e7a1f9d2b4
Create Date: 2026-12-02 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd5a9e3b7c1f8'
down_revision: str | None = 'c3e7a1f9d2b4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('options', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('options')
