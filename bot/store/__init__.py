"""Storage: SQLAlchemy async over SQLite (default) or PostgreSQL, schema managed by Alembic."""
from bot.store.records import ChunkRecord, DocumentRecord, StoredMessage
from bot.store.store import Store

__all__ = ["Store", "DocumentRecord", "ChunkRecord", "StoredMessage"]
