"""VOSpace: explicit containers, links, user properties, UWS transfer jobs, endpoints.

Revision ID: 683becc420be
Revises: 9994d275e804
Create Date: 2026-11-24 06:12:16.627989
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '683becc420be'
down_revision: str | None = '9994d275e804'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('vospace_containers',
    sa.Column('path', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('owner', sa.String(length=256), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('path', name=op.f('pk_vospace_containers'))
    )
    op.create_table('vospace_jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=256), nullable=True),
    sa.Column('phase', sa.Enum('PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR', 'ABORTED', 'UNKNOWN', 'HELD', 'SUSPENDED', 'ARCHIVED', name='uwsphase', native_enum=False, length=16), nullable=False),
    sa.Column('direction', sa.String(length=4096), nullable=False),
    sa.Column('target', sa.String(length=4096), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('run_id', sa.String(length=256), nullable=True),
    sa.Column('error_fault', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('execution_duration', sa.Integer(), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('destruction_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vospace_jobs'))
    )
    with op.batch_alter_table('vospace_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vospace_jobs_created_time'), ['created_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_vospace_jobs_destruction_time'), ['destruction_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_vospace_jobs_owner'), ['owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_vospace_jobs_phase'), ['phase'], unique=False)

    op.create_table('vospace_links',
    sa.Column('path', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('target', sa.String(length=4096), nullable=False),
    sa.Column('owner', sa.String(length=256), nullable=False),
    sa.Column('created_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('path', name=op.f('pk_vospace_links'))
    )
    op.create_table('vospace_properties',
    sa.Column('path', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('uri', sa.String(length=512), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('path', 'uri', name=op.f('pk_vospace_properties'))
    )
    with op.batch_alter_table('vospace_properties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vospace_properties_uri'), ['uri'], unique=False)

    op.create_table('vospace_endpoints',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('owner', sa.String(length=256), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['vospace_jobs.id'], name=op.f('fk_vospace_endpoints_job_id_vospace_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_vospace_endpoints'))
    )
    with op.batch_alter_table('vospace_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vospace_endpoints_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vospace_endpoints_job_id'), ['job_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('vospace_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vospace_endpoints_job_id'))
        batch_op.drop_index(batch_op.f('ix_vospace_endpoints_expires_at'))

    op.drop_table('vospace_endpoints')
    with op.batch_alter_table('vospace_properties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vospace_properties_uri'))

    op.drop_table('vospace_properties')
    op.drop_table('vospace_links')
    with op.batch_alter_table('vospace_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vospace_jobs_phase'))
        batch_op.drop_index(batch_op.f('ix_vospace_jobs_owner'))
        batch_op.drop_index(batch_op.f('ix_vospace_jobs_destruction_time'))
        batch_op.drop_index(batch_op.f('ix_vospace_jobs_created_time'))

    op.drop_table('vospace_jobs')
    op.drop_table('vospace_containers')
