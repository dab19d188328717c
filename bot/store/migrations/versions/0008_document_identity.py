"""document identity: what each knowledge-base document is (title, issuer, region, 文号, dates)

`identity` holds what ingest read from the text; `identity_override` an operator's corrections,
kept across re-ingests.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04 16:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kb_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('identity_override', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kb_documents', schema=None) as batch_op:
        batch_op.drop_column('identity_override')
        batch_op.drop_column('identity')
