"""Release and tiering policies per store; stores retired for good; instances by age.

Revision ID: c3e7a1f9d2b4
Revises: c4e8f1a7d2b6
Create Date: 2026-12-02 16:01:46.303698
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c3e7a1f9d2b4'
down_revision: str | None = 'c4e8f1a7d2b6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('release_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('after_days', sa.Integer(), nullable=False),
    sa.Column('action', sa.Enum('delete', 'move', name='releaseaction', native_enum=False, length=16), nullable=False),
    sa.Column('target_store_id', sa.Integer(), nullable=True),
    sa.Column('min_copies', sa.Integer(), nullable=True),
    sa.Column('proof_age_days', sa.Integer(), nullable=True),
    sa.Column('allow_remote_only', sa.Boolean(), nullable=False),
    sa.Column('updated_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_release_policies_store_id_stores'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_store_id'], ['stores.id'], name=op.f('fk_release_policies_target_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_release_policies')),
    sa.UniqueConstraint('store_id', name=op.f('uq_release_policies_store_id'))
    )
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.create_index('ix_instances_store_age', ['store_id', 'created_time', 'id'], unique=False)

    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('retired')

    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_index('ix_instances_store_age')

    op.drop_table('release_policies')
