"""Error log: drop the columns nothing reads (severity, always 'error'; cleared, never set).

Revision ID: 7a3f2c1e8d45
Revises: 5e1d3a7c9b20
Create Date: 2026-12-02 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '7a3f2c1e8d45'
down_revision: str | None = '5e1d3a7c9b20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_errors_cleared'))
        batch_op.drop_column('cleared')
        batch_op.drop_column('severity')


def downgrade() -> None:
    # Existing rows get the values the columns always had; the defaults go again after.
    with op.batch_alter_table('errors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('severity', sa.Enum('info', 'warning', 'error', 'critical', name='errorseverity', native_enum=False, length=16), nullable=False, server_default='error'))
        batch_op.add_column(sa.Column('cleared', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('errors', schema=None) as batch_op:
        batch_op.alter_column('severity', server_default=None)
        batch_op.alter_column('cleared', server_default=None)
        batch_op.create_index(batch_op.f('ix_errors_cleared'), ['cleared'], unique=False)
