"""Peer health (failures in a row, next attempt) and the verification state of copies.

Revision ID: 5e1f0c2a9b7d
Revises: 5e2c8a91d4f7
Create Date: 2026-12-02 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5e1f0c2a9b7d'
down_revision: str | None = '5e2c8a91d4f7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('librarians', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_after', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_time', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('verified_result', sa.Enum('ok', 'bad', name='copystate', native_enum=False, length=8), nullable=True))
        batch_op.add_column(sa.Column('verified_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('verified_detail', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('verified_detail')
        batch_op.drop_column('verified_by')
        batch_op.drop_column('verified_result')
        batch_op.drop_column('verified_time')
    with op.batch_alter_table('librarians', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_after')
        batch_op.drop_column('consecutive_failures')
