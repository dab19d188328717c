"""Storage: SQLAlchemy async over SQLite (default) or PostgreSQL, schema managed by Alembic."""
from bot.records import ChunkRecord, DocumentRecord, ManagerRecord, StoredMessage, TicketEvent, TicketRecord
from bot.store.store import Store

__all__ = ["Store", "DocumentRecord", "ChunkRecord", "StoredMessage", "TicketRecord", "TicketEvent", "ManagerRecord"]
