"""Catalogue foundation: files, instances, stores, uploads, users, tokens, error log.

Revision ID: 96f91e9b74b8
Revises:
Create Date: 2026-11-23 15:49:05.691730
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '96f91e9b74b8'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('errors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('severity', sa.Enum('info', 'warning', 'error', 'critical', name='errorseverity', native_enum=False, length=16), nullable=False),
    sa.Column('category', sa.Enum('upload', 'store', 'startup', 'auth', name='errorcategory', native_enum=False, length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('caller', sa.String(length=256), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cleared', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_errors'))
    )
    with op.batch_alter_table('errors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_errors_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_errors_cleared'), ['cleared'], unique=False)
        batch_op.create_index(batch_op.f('ix_errors_created_time'), ['created_time'], unique=False)

    op.create_table('files',
    sa.Column('name', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('checksum', sa.String(length=256), nullable=False),
    sa.Column('uploader', sa.String(length=256), nullable=False),
    sa.Column('source', sa.String(length=256), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_files'))
    )
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_files_created_time'), ['created_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_files_size'), ['size'], unique=False)
        batch_op.create_index(batch_op.f('ix_files_uploader'), ['uploader'], unique=False)

    op.create_table('stores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.Enum('posix', name='storekind', native_enum=False, length=32), nullable=False),
    sa.Column('root', sa.String(length=2048), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('capacity_bytes', sa.BigInteger(), nullable=True),
    sa.Column('used_bytes', sa.BigInteger(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('accepts_ingest', sa.Boolean(), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stores')),
    sa.UniqueConstraint('name', name=op.f('uq_stores_name')),
    sa.UniqueConstraint('uuid', name=op.f('uq_stores_uuid'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('password_hash', sa.String(length=512), nullable=False),
    sa.Column('permission', sa.Enum('read-only', 'read-append', 'admin', 'peer', name='permissionlevel', native_enum=False, length=32), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('incoming_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=1024), nullable=False),
    sa.Column('status', sa.Enum('INITIATED', 'STAGED', 'ONGOING', 'STAGED_AT_DEST', 'COMPLETED', 'FAILED', 'CANCELLED', name='transferstatus', native_enum=False, length=32), nullable=False),
    sa.Column('expected_size', sa.BigInteger(), nullable=False),
    sa.Column('expected_checksum', sa.String(length=256), nullable=True),
    sa.Column('checksum_algorithm', sa.String(length=32), nullable=False),
    sa.Column('received_size', sa.BigInteger(), nullable=True),
    sa.Column('received_checksum', sa.String(length=256), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('staging_dir', sa.String(length=2048), nullable=False),
    sa.Column('store_path', sa.String(length=2048), nullable=False),
    sa.Column('transfer_manager', sa.String(length=32), nullable=False),
    sa.Column('uploader', sa.String(length=256), nullable=True),
    sa.Column('source', sa.String(length=256), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_incoming_transfers_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incoming_transfers'))
    )
    with op.batch_alter_table('incoming_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incoming_transfers_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_incoming_transfers_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_incoming_transfers_store_id'), ['store_id'], unique=False)

    op.create_table('instances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=2048), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['file_name'], ['files.name'], name=op.f('fk_instances_file_name_files'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_instances_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instances')),
    sa.UniqueConstraint('store_id', 'path', name=op.f('uq_instances_store_id'))
    )
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instances_file_name'), ['file_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_instances_store_id'), ['store_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instances_store_id'))
        batch_op.drop_index(batch_op.f('ix_instances_file_name'))

    op.drop_table('instances')
    with op.batch_alter_table('incoming_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incoming_transfers_store_id'))
        batch_op.drop_index(batch_op.f('ix_incoming_transfers_status'))
        batch_op.drop_index(batch_op.f('ix_incoming_transfers_name'))

    op.drop_table('incoming_transfers')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('stores')
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_files_uploader'))
        batch_op.drop_index(batch_op.f('ix_files_size'))
        batch_op.drop_index(batch_op.f('ix_files_created_time'))

    op.drop_table('files')
    with op.batch_alter_table('errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_errors_created_time'))
        batch_op.drop_index(batch_op.f('ix_errors_cleared'))
        batch_op.drop_index(batch_op.f('ix_errors_category'))

    op.drop_table('errors')
