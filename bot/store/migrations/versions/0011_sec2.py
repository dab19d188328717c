"""sec2: the text hash of each document (duplicates) and passages flagged for review

`kb_documents.text_sha256` is the hash of a document's extracted text (a second file with the same
text is not indexed again); `kb_documents.review` lists what screening flagged in it (instruction-like
text, links to hosts not allowed) for operators; `kb_chunks.flags` holds the flagged sentences of a
chunk, which extractive answers never quote.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 17:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kb_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('review', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_kb_documents_text_sha256'), ['text_sha256'], unique=False)
    with op.batch_alter_table('kb_chunks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flags', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kb_chunks', schema=None) as batch_op:
        batch_op.drop_column('flags')
    with op.batch_alter_table('kb_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_documents_text_sha256'))
        batch_op.drop_column('review')
        batch_op.drop_column('text_sha256')
