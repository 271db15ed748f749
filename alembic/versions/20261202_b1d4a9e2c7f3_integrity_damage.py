"""Integrity: damage records, and where the audit's walk of each store stopped.

Revision ID: b1d4a9e2c7f3
Revises: 7a3f2c1e8d45
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b1d4a9e2c7f3'
down_revision: str | None = '7a3f2c1e8d45'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('damage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=2048), nullable=False),
    sa.Column('kind', sa.Enum('ok', 'missing', 'wrong_size', 'corrupt', 'unreadable', 'dark', name='finding', native_enum=False, length=16), nullable=False),
    sa.Column('state', sa.Enum('open', 'lost', 'repaired', 'registered', 'quarantined', 'deleted', 'gone', name='damagestate', native_enum=False, length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('found_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('found_by', sa.String(length=128), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('quarantine_path', sa.String(length=2048), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_time', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_damage_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_damage'))
    )
    with op.batch_alter_table('damage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_damage_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_damage_file_name'), ['file_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_damage_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_damage_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_damage_store_id'), ['store_id'], unique=False)
        batch_op.create_index('uq_damage_active_path', ['store_id', 'path'], unique=True, sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))

    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audit_walk_after', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('audit_walk_started', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('audit_walk_finished', sa.DateTime(timezone=True), nullable=True))

    # The audit's question, "which copies on this store are due, oldest first?"
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.create_index('ix_instances_store_verified', ['store_id', 'verified_time'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_index('ix_instances_store_verified')

    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('audit_walk_finished')
        batch_op.drop_column('audit_walk_started')
        batch_op.drop_column('audit_walk_after')

    with op.batch_alter_table('damage', schema=None) as batch_op:
        batch_op.drop_index('uq_damage_active_path', sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))
        batch_op.drop_index(batch_op.f('ix_damage_store_id'))
        batch_op.drop_index(batch_op.f('ix_damage_state'))
        batch_op.drop_index(batch_op.f('ix_damage_instance_id'))
        batch_op.drop_index(batch_op.f('ix_damage_file_name'))
        batch_op.drop_index(batch_op.f('ix_damage_active'))

    op.drop_table('damage')
