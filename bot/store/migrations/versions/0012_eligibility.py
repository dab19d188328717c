"""eligibility: support items, company profiles, match statistics (issue 17)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('support_items',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('doc_id', sa.String(length=64), nullable=False),
    sa.Column('what', sa.String(length=200), nullable=False),
    sa.Column('who', sa.Text(), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=True),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('ratio', sa.Float(), nullable=True),
    sa.Column('cap', sa.Float(), nullable=True),
    sa.Column('support', sa.Text(), nullable=False),
    sa.Column('clause', sa.Text(), nullable=False),
    sa.Column('section', sa.Text(), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('source', sa.String(length=1024), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('district', sa.String(length=32), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['doc_id'], ['kb_documents.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('support_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_items_doc_id'), ['doc_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_items_state'), ['state'], unique=False)
    op.create_table('company_profiles',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('flow', sa.JSON(), nullable=True),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'user_id', name='uq_company_profiles_user')
    )
    op.create_table('support_matches',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('item_id', BIG_ID, nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('failed', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['support_items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('support_matches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_matches_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_matches_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_table('support_matches')
    op.drop_table('company_profiles')
    op.drop_table('support_items')
