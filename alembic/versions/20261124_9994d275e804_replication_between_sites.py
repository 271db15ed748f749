"""Replication between sites: peers, remote instances, outgoing transfers and send
queues, pending check-ins, the clone columns of incoming transfers, and staged bytes
as one file per transfer (staging_dir becomes staging_path).

Revision ID: 9994d275e804
Revises: 96f91e9b74b8
Create Date: 2026-11-24 06:06:44.319365
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '9994d275e804'
down_revision: str | None = '96f91e9b74b8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('INITIATED', 'STAGED', 'ONGOING', 'STAGED_AT_DEST')"


def upgrade() -> None:
    op.create_table('checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('destination', sa.String(length=64), nullable=False),
    sa.Column('source_transfer_id', sa.BigInteger(), nullable=True),
    sa.Column('holder', sa.String(length=64), nullable=True),
    sa.Column('file_name', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('checksum', sa.String(length=256), nullable=True),
    sa.Column('committed', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('delivered', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_time', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkins'))
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index('ix_checkins_pending', ['destination', 'delivered', 'next_attempt_at'], unique=False)

    op.create_table('librarians',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('sealed_password', sa.Text(), nullable=False),
    sa.Column('push', sa.Boolean(), nullable=False),
    sa.Column('forward', sa.Boolean(), nullable=False),
    sa.Column('push_name_glob', sa.String(length=1024), nullable=True),
    sa.Column('push_created_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transfer_managers', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('last_contact', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('planned_through', sa.DateTime(timezone=True), nullable=True),
    sa.Column('swept_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_librarians')),
    sa.UniqueConstraint('name', name=op.f('uq_librarians_name'))
    )
    op.create_table('send_queues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('destination', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('PENDING', 'ONGOING', 'COMPLETED', 'FAILED', name='queuestatus', native_enum=False, length=16), nullable=False),
    sa.Column('transfer_manager', sa.String(length=32), nullable=True),
    sa.Column('external_id', sa.String(length=256), nullable=True),
    sa.Column('submission_id', sa.String(length=64), nullable=True),
    sa.Column('file_count', sa.Integer(), nullable=False),
    sa.Column('total_bytes', sa.BigInteger(), nullable=False),
    sa.Column('done_count', sa.Integer(), nullable=False),
    sa.Column('failed_count', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_time', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_send_queues'))
    )
    with op.batch_alter_table('send_queues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_send_queues_destination'), ['destination'], unique=False)
        batch_op.create_index(batch_op.f('ix_send_queues_status'), ['status'], unique=False)

    op.create_table('outgoing_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('destination', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('INITIATED', 'STAGED', 'ONGOING', 'STAGED_AT_DEST', 'COMPLETED', 'FAILED', 'CANCELLED', name='transferstatus', native_enum=False, length=32), nullable=False),
    sa.Column('transfer_manager', sa.String(length=32), nullable=True),
    sa.Column('send_queue_id', sa.Integer(), nullable=True),
    sa.Column('remote_transfer_id', sa.BigInteger(), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('checksum', sa.String(length=256), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('external_id', sa.String(length=256), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_time', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['file_name'], ['files.name'], name=op.f('fk_outgoing_transfers_file_name_files'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['send_queue_id'], ['send_queues.id'], name=op.f('fk_outgoing_transfers_send_queue_id_send_queues'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_transfers'))
    )
    with op.batch_alter_table('outgoing_transfers', schema=None) as batch_op:
        batch_op.create_index('ix_outgoing_transfers_destination_status', ['destination', 'status'], unique=False)
        batch_op.create_index('ix_outgoing_transfers_file_destination', ['file_name', 'destination', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_outgoing_transfers_send_queue_id'), ['send_queue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outgoing_transfers_status'), ['status'], unique=False)
        batch_op.create_index('uq_outgoing_transfers_live', ['file_name', 'destination'], unique=True, postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE))

    op.create_table('remote_instances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('copy_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['file_name'], ['files.name'], name=op.f('fk_remote_instances_file_name_files'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remote_instances')),
    sa.UniqueConstraint('file_name', 'site', name=op.f('uq_remote_instances_file_name'))
    )
    with op.batch_alter_table('remote_instances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remote_instances_site'), ['site'], unique=False)

    with op.batch_alter_table('incoming_transfers', schema=None) as batch_op:
        # Staged bytes are now one file each, no longer a directory per transfer.
        batch_op.alter_column('staging_dir', new_column_name='staging_path', existing_type=sa.String(length=2048), existing_nullable=False)
        batch_op.add_column(sa.Column('peer', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('source_transfer_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('origin_uploader', sa.String(length=256), nullable=True))
        batch_op.create_index('ix_incoming_transfers_peer_source', ['peer', 'source_transfer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('incoming_transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_incoming_transfers_peer_source')
        batch_op.drop_column('origin_uploader')
        batch_op.drop_column('source_transfer_id')
        batch_op.drop_column('peer')
        batch_op.alter_column('staging_path', new_column_name='staging_dir', existing_type=sa.String(length=2048), existing_nullable=False)

    with op.batch_alter_table('remote_instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remote_instances_site'))

    op.drop_table('remote_instances')
    with op.batch_alter_table('outgoing_transfers', schema=None) as batch_op:
        batch_op.drop_index('uq_outgoing_transfers_live', postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE))
        batch_op.drop_index(batch_op.f('ix_outgoing_transfers_status'))
        batch_op.drop_index(batch_op.f('ix_outgoing_transfers_send_queue_id'))
        batch_op.drop_index('ix_outgoing_transfers_file_destination')
        batch_op.drop_index('ix_outgoing_transfers_destination_status')

    op.drop_table('outgoing_transfers')
    with op.batch_alter_table('send_queues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_send_queues_status'))
        batch_op.drop_index(batch_op.f('ix_send_queues_destination'))

    op.drop_table('send_queues')
    op.drop_table('librarians')
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_checkins_pending')

    op.drop_table('checkins')
