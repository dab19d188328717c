"""What a search needs of the chunks of one registry generation, kept in memory by chunk id.

- `ChunkTable`: every chunk record of the generation (read once when the generation changes, not on
  every search), with each chunk's indexed text lowercased once (query coverage looks words up in it).
  An id the table does not hold is unknown to the registry: a search drops it.
- `VectorCache`: the stored vectors of chunks that a search needed beyond the dense hits (a lexical
  hit's cosine), bounded, so a chunk that keeps coming up is fetched from Chroma once.

Both belong to one generation: the retriever replaces them together with the BM25 index.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice

import numpy as np

from bot.store import ChunkRecord
from knowledge.chunking import record_index_text

VECTOR_CACHE = 20_000  # vectors kept (384 floats: about 1.6 KB each)


class ChunkTable:
    """The chunk records of one generation by id."""

    def __init__(self, records: Iterable[ChunkRecord] = ()) -> None:
        self._records = {r.id: r for r in records}
        self._lowered: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._records)

    def first(self, ids: Iterable[str], k: int) -> list[ChunkRecord]:
        """The records of the first `k` known ids, in this order (unknown ids are skipped)."""
        found = (self._records.get(cid) for cid in ids)
        return list(islice((r for r in found if r is not None), k))

    def lowered(self, record: ChunkRecord) -> str:
        """The record's indexed text (`record_index_text`), lowercased; computed once per chunk."""
        text = self._lowered.get(record.id)
        if text is None:
            text = self._lowered[record.id] = record_index_text(record).lower()
        return text


class VectorCache:
    """Stored vectors by chunk id, least recently used dropped first."""

    def __init__(self, size: int = VECTOR_CACHE) -> None:
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def missing(self, ids: Iterable[str]) -> list[str]:
        return [cid for cid in ids if cid not in self._vectors]

    def add(self, vectors: Mapping[str, Sequence[float]]) -> None:
        for cid, vector in vectors.items():
            self._vectors[cid] = np.asarray(vector, dtype=np.float64)
        while len(self._vectors) > self.size:
            self._vectors.popitem(last=False)

    def cosines(self, query: Sequence[float], ids: Iterable[str]) -> dict[str, float]:
        """Cosine similarity of the query and each cached one of `ids`."""
        q = np.asarray(query, dtype=np.float64)
        q_norm = float(np.linalg.norm(q))
        out: dict[str, float] = {}
        for cid in ids:
            v = self._vectors.get(cid)
            if v is None:
                continue
            self._vectors.move_to_end(cid)
            norm = q_norm * float(np.linalg.norm(v))
            out[cid] = float(q @ v) / norm if norm else 0.0
        return out
