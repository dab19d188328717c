"""gap states: an operator's decision on a knowledge-gap question (dismissed, or answered by a curated answer)

One row per normalised question (`key`: 32 hex digits of its SHA-256); a question without a row is open.
`answered` rows name the curated answer written for the question; while that answer is retired the
question counts as open again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-14 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('gap_states',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('curated_id', BIG_ID, nullable=True),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['curated_id'], ['curated_answers.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('gap_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gap_states_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('gap_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gap_states_state'))
    op.drop_table('gap_states')
