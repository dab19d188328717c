"""message claims: when a user message was last claimed for processing

A message "processing" for longer than RECOVERY_GRACE_SECONDS belongs to a dead worker. That age used
to be measured from the message's arrival, so a message recovered after a restart (claimed again a
moment ago, arrived minutes ago) looked stale at once and a second path answered it again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
