"""The BM25 side: jieba tokens, ranking, coverage, persistence with a generation stamp."""
from __future__ import annotations

from pathlib import Path

from bot.text import tokenize
from knowledge.lexical import LexicalIndex

TEXTS = {"a": "三年内建设概念验证平台60家左右", "b": "人才总量突破300万人", "c": "海洋科技大市场每年筛选成果2000项"}


def _index(generation: int = 1) -> LexicalIndex:
    return LexicalIndex.build(list(TEXTS), list(TEXTS.values()), generation)


def test_tokens_drop_punctuation_and_stopwords_and_keep_english_words() -> None:
    """Tokens are lowercased words without punctuation or function words; English words stay."""
    tokens = tokenize("青岛有多少家概念验证平台？What about AI?")
    assert {"青岛", "概念", "验证", "平台", "ai"} <= set(tokens)
    assert not {"？", "有", "多少", "what", "about", "?"} & set(tokens)


def test_search_ranks_the_passage_sharing_the_query_words_first() -> None:
    """BM25 puts the passage with the query's words on top and ignores unrelated ones."""
    hits = _index().search("人才总量有多少", 3)
    assert [cid for cid, _ in hits] == ["b"]


def test_coverage_is_the_weighted_share_of_query_words_present() -> None:
    """All query words present gives 1.0; words the corpus never mentions pull coverage down."""
    index = _index()
    assert index.coverage(index.query_weights("人才总量"), TEXTS["b"]) == 1.0
    partial = index.coverage(index.query_weights("深圳人才补贴"), TEXTS["b"])
    assert 0.0 < partial < 0.5


def test_mentions_tells_known_words_from_unknown_ones() -> None:
    """A word indexed anywhere is mentioned; a city never named is not."""
    index = _index()
    assert index.mentions("概念验证") and not index.mentions("深圳")


def test_saved_index_loads_with_its_ids_and_generation(tmp_path: Path) -> None:
    """A saved index reloads with the same ids, generation and results."""
    _index(generation=7).save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded is not None and loaded.generation == 7 and loaded.ids == list(TEXTS)
    assert loaded.search("海洋科技大市场", 1)[0][0] == "c"


def test_saving_again_replaces_the_previous_index(tmp_path: Path) -> None:
    """Only the newest saved generation remains on disk."""
    _index(generation=1).save(tmp_path)
    _index(generation=2).save(tmp_path)
    assert LexicalIndex.load(tmp_path).generation == 2
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1


def test_loading_without_a_saved_index_gives_none(tmp_path: Path) -> None:
    """An empty folder has no index to load."""
    assert LexicalIndex.load(tmp_path / "missing") is None


def test_search_returns_the_n_best_scores_of_a_large_index_best_first_ties_in_index_order() -> None:
    """Over 2,000 chunks (most of them sharing a query word), search gives exactly the n highest
    BM25 scores, ranked, equal scores in index order, and never a chunk without a query word."""
    import random

    import numpy as np

    rng = random.Random(5)
    words = ["企业", "平台", "人才", "补贴", "研发", "专利", "孵化器", "基金", "园区", "认定"]
    texts = ["".join(rng.choice(words) for _ in range(rng.randint(1, 6))) for _ in range(2000)]
    index = LexicalIndex.build([f"c{i}" for i in range(len(texts))], texts, 1)
    for query in ("企业研发平台", "人才补贴", "孵化器认定基金", "专利"):
        scores = index._bm25.get_scores(tokenize(query))
        order = sorted((i for i in range(len(texts)) if scores[i] > 0), key=lambda i: (-scores[i], i))
        for n in (1, 5, 8, 30, 100):
            hits = index.search(query, n)
            assert [cid for cid, _ in hits] == [f"c{i}" for i in order[:n]]
            assert np.all(np.diff([s for _, s in hits]) <= 0)
