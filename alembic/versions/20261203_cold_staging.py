"""Cold stores: staged copies, staging jobs, and the outbox of notifications.

Revision ID: 26e8dac67f94
Revises: d5a9e3b7c1f8
Create Date: 2026-12-03 10:30:46.430074
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '26e8dac67f94'
down_revision: str | None = 'd5a9e3b7c1f8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('signer', sa.String(length=128), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('delivered_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('abandoned', sa.Boolean(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('key', name=op.f('uq_outbox_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['delivered_time', 'next_attempt_at'], unique=False)

    op.create_table('staging_jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('state', sa.Enum('pending', 'complete', 'failed', 'cancelled', name='stagingjobstate', native_enum=False, length=16), nullable=False),
    sa.Column('notify_url', sa.String(length=2048), nullable=True),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retain_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staging_jobs'))
    )
    with op.batch_alter_table('staging_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staging_jobs_owner'), ['owner'], unique=False)
        batch_op.create_index('ix_staging_jobs_state', ['state', 'expires_time'], unique=False)

    op.create_table('staged_copies',
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('tape_path', sa.String(length=2048), nullable=False),
    sa.Column('state', sa.Enum('pending', 'ready', 'error', name='stagedfilestate', native_enum=False, length=16), nullable=False),
    sa.Column('requested_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_request_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('checked_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ready_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pinned_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_staged_copies_instance_id_instances'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_staged_copies_store_id_stores')),
    sa.PrimaryKeyConstraint('instance_id', name=op.f('pk_staged_copies'))
    )
    with op.batch_alter_table('staged_copies', schema=None) as batch_op:
        batch_op.create_index('ix_staged_copies_pin', ['state', 'pinned_until'], unique=False)
        batch_op.create_index('ix_staged_copies_state', ['store_id', 'state', 'last_request_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_staged_copies_tape_path'), ['tape_path'], unique=False)

    op.create_table('staging_job_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('file_name', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.Enum('pending', 'ready', 'error', name='stagedfilestate', native_enum=False, length=16), nullable=False),
    sa.Column('ready_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_staging_job_files_instance_id_instances'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['job_id'], ['staging_jobs.id'], name=op.f('fk_staging_job_files_job_id_staging_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staging_job_files')),
    sa.UniqueConstraint('job_id', 'file_name', name=op.f('uq_staging_job_files_job_id'))
    )
    with op.batch_alter_table('staging_job_files', schema=None) as batch_op:
        batch_op.create_index('ix_staging_job_files_copy', ['instance_id', 'state'], unique=False)
        batch_op.create_index('ix_staging_job_files_job_state', ['job_id', 'state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('staging_job_files', schema=None) as batch_op:
        batch_op.drop_index('ix_staging_job_files_job_state')
        batch_op.drop_index('ix_staging_job_files_copy')

    op.drop_table('staging_job_files')
    with op.batch_alter_table('staged_copies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staged_copies_tape_path'))
        batch_op.drop_index('ix_staged_copies_state')
        batch_op.drop_index('ix_staged_copies_pin')

    op.drop_table('staged_copies')
    with op.batch_alter_table('staging_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_staging_jobs_state')
        batch_op.drop_index(batch_op.f('ix_staging_jobs_owner'))

    op.drop_table('staging_jobs')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
