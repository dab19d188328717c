"""calendar: policy status fields, application calendar entries, the knowledge-base change log,
subscriptions and their notice items (issue 16)

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-04 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('kb_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('policy_override', sa.JSON(), nullable=True))
    op.create_table('calendar_entries',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('doc_id', sa.String(length=64), nullable=False),
    sa.Column('what', sa.String(length=200), nullable=False),
    sa.Column('who', sa.Text(), nullable=False),
    sa.Column('opens', sa.String(length=10), nullable=False),
    sa.Column('closes', sa.String(length=10), nullable=False),
    sa.Column('recurrence', sa.String(length=10), nullable=False),
    sa.Column('clause', sa.Text(), nullable=False),
    sa.Column('section', sa.Text(), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('source', sa.String(length=1024), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['doc_id'], ['kb_documents.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('calendar_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_entries_doc_id'), ['doc_id'], unique=False)
    op.create_table('kb_changes',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('doc_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kb_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_changes_doc_id'), ['doc_id'], unique=False)
    op.create_table('subscriptions',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('conversation_id', BIG_ID, nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=True),
    sa.Column('regions', sa.JSON(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('since_change_id', sa.Integer(), nullable=False),
    sa.Column('last_notice_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', name='uq_subscriptions_conversation')
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriptions_channel'), ['channel'], unique=False)
    op.create_table('notice_items',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('conversation_id', BIG_ID, nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('message_id', BIG_ID, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'key', name='uq_notice_items_key')
    )
    with op.batch_alter_table('notice_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_items_conversation_id'), ['conversation_id'], unique=False)


def downgrade() -> None:
    op.drop_table('notice_items')
    op.drop_table('subscriptions')
    op.drop_table('kb_changes')
    op.drop_table('calendar_entries')
    with op.batch_alter_table('kb_documents', schema=None) as batch_op:
        batch_op.drop_column('policy_override')
        batch_op.drop_column('policy')
