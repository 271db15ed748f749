"""Proof jobs: peers asking this site to re-hash its copies of named files now.

Revision ID: c4e8f1a7d2b6
Revises: b1d4a9e2c7f3
Create Date: 2026-12-02 16:02:07.420146
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c4e8f1a7d2b6'
down_revision: str | None = 'b1d4a9e2c7f3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('proof_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('caller', sa.String(length=128), nullable=False),
    sa.Column('state', sa.Enum('pending', 'running', 'done', name='proofstate', native_enum=False, length=16), nullable=False),
    sa.Column('names', sa.JSON(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_time', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proof_jobs'))
    )
    with op.batch_alter_table('proof_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proof_jobs_caller'), ['caller'], unique=False)
        batch_op.create_index(batch_op.f('ix_proof_jobs_created_time'), ['created_time'], unique=False)
        batch_op.create_index('ix_proof_jobs_state_claim', ['state', 'claimed_until'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('proof_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_proof_jobs_state_claim')
        batch_op.drop_index(batch_op.f('ix_proof_jobs_created_time'))
        batch_op.drop_index(batch_op.f('ix_proof_jobs_caller'))

    op.drop_table('proof_jobs')
