"""server_processes: live API processes, for clean-up that never takes another's bytes.

Revision ID: 5c0e7a1d2b93
Revises: 5e1f0c2a9b7d
Create Date: 2026-12-02 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5c0e7a1d2b93'
down_revision: str | None = '5e1f0c2a9b7d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('server_processes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_processes'))
    )
    with op.batch_alter_table('server_processes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_server_processes_heartbeat'), ['heartbeat'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('server_processes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_server_processes_heartbeat'))
    op.drop_table('server_processes')
