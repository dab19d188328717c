"""Ingest: added / unchanged / updated / pruned documents, failures that do not stop the run."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.errors import DocumentError
from knowledge import KnowledgeBase, bundled_documents_dir
from knowledge.ingest import doc_id_for
from tests.knowledge.kb_fakes import HashEmbedder

FIRST = "一、总体要求\n三年内建设概念验证平台60家左右。\n二、保障措施\n市级财政科技资金每年增长15%以上。"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "a.txt").write_text(FIRST, encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.md").write_text("# 人才政策\n人才总量突破300万人。", encoding="utf-8")
    return folder


async def test_first_ingest_adds_every_document(hash_kb: KnowledgeBase, docs: Path) -> None:
    """Every supported file under the folder is added with its chunks, registry and vectors alike."""
    report = await hash_kb.ingest([docs])
    assert (report.added, report.failed, report.chunks) == (2, 0, 3)
    sources = [d.source for d in await hash_kb.store.kb.list_documents()]
    assert sources == ["policies/a.txt", "policies/sub/b.md"]
    assert hash_kb.vectors.count() == 3


async def test_reingesting_unchanged_files_embeds_and_changes_nothing(
        hash_kb: KnowledgeBase, hash_embedder: HashEmbedder, docs: Path) -> None:
    """A second ingest of the same files embeds nothing and leaves the generation as it was."""
    await hash_kb.ingest([docs])
    generation, calls = await hash_kb.store.kb.generation(), hash_embedder.passage_calls
    report = await hash_kb.ingest([docs])
    assert (report.unchanged, report.added, report.updated, report.embedded) == (2, 0, 0, 0)
    assert hash_embedder.passage_calls == calls
    assert await hash_kb.store.kb.generation() == generation


async def test_a_changed_file_replaces_its_chunks_and_embeds_only_new_text(
        hash_kb: KnowledgeBase, hash_embedder: HashEmbedder, docs: Path) -> None:
    """Editing one section re-embeds that chunk only; the old chunk leaves SQL, Chroma and BM25."""
    await hash_kb.ingest([docs])
    old_ids = set(await hash_kb.store.kb.chunk_ids(doc_id_for("policies/a.txt")))
    hash_embedder.embedded.clear()
    (docs / "a.txt").write_text(FIRST.replace("15%", "20%"), encoding="utf-8")
    report = await hash_kb.ingest([docs])
    new_ids = set(await hash_kb.store.kb.chunk_ids(doc_id_for("policies/a.txt")))
    assert (report.updated, report.unchanged, report.embedded) == (1, 1, 1)
    assert hash_embedder.embedded == ["a\n二、保障措施\n市级财政科技资金每年增长20%以上。"]  # title line first
    assert len(old_ids & new_ids) == 1 and hash_kb.vectors.existing(sorted(old_ids - new_ids)) == set()
    hits = await hash_kb.search_lexical("市级财政科技资金")
    assert "20%" in hits[0].text and all("15%" not in p.text for p in hits)


async def test_reingest_into_a_new_collection_restores_vectors_from_the_registry(
        hash_kb: KnowledgeBase, kb_settings, docs: Path) -> None:
    """Unchanged files whose vectors are missing (new CHROMA_COLLECTION) get them back from SQL."""
    await hash_kb.ingest([docs])
    fresh = KnowledgeBase(kb_settings.model_copy(update={"chroma_collection": "fresh-one"}),
                          hash_kb.store, HashEmbedder())
    report = await fresh.ingest([docs])
    assert (report.unchanged, report.embedded) == (2, 3) and fresh.vectors.count() == 3
    await fresh.close()


async def test_prune_removes_documents_whose_files_are_gone(hash_kb: KnowledgeBase, docs: Path) -> None:
    """With prune, a deleted file's document disappears from the registry and the indexes."""
    await hash_kb.ingest([docs])
    ids = await hash_kb.store.kb.chunk_ids(doc_id_for("policies/sub/b.md"))
    shutil.rmtree(docs / "sub")
    report = await hash_kb.ingest([docs], prune=True)
    assert report.removed == 1
    assert [d.source for d in await hash_kb.store.kb.list_documents()] == ["policies/a.txt"]
    assert hash_kb.vectors.existing(ids) == set()
    assert await hash_kb.search_lexical("人才总量") == []


async def test_prune_leaves_documents_of_other_roots_alone(hash_kb: KnowledgeBase, docs: Path, tmp_path: Path) -> None:
    """Pruning one folder does not remove documents ingested from another folder."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "c.txt").write_text("海洋生产总值增长6.1%。", encoding="utf-8")
    await hash_kb.ingest([docs, other])
    report = await hash_kb.ingest([other], prune=True)
    assert report.removed == 0 and len(await hash_kb.store.kb.list_documents()) == 3


async def test_broken_and_unsupported_files_fail_while_the_rest_is_ingested(
        hash_kb: KnowledgeBase, docs: Path) -> None:
    """A broken PDF is reported and recorded as failed; other files are still added."""
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (docs / "table.xlsx").write_bytes(b"PK")
    report = await hash_kb.ingest([docs, docs / "table.xlsx"])
    assert (report.added, report.failed) == (2, 2)
    assert {Path(path).name for path, _ in report.failures} == {"broken.pdf", "table.xlsx"}
    failed = await hash_kb.store.kb.get_document(doc_id_for("policies/broken.pdf"))
    assert failed.status == "failed" and "cannot be read" in failed.error


async def test_missing_path_is_reported_as_a_failure(hash_kb: KnowledgeBase, tmp_path: Path) -> None:
    """A path that does not exist is one failure in the report, not an exception."""
    report = await hash_kb.ingest([tmp_path / "nope"])
    assert report.failures == [(str(tmp_path / "nope"), "not found")]


async def test_summary_names_every_count(hash_kb: KnowledgeBase, docs: Path) -> None:
    """The one-line summary states added, updated, unchanged, removed, failed, chunks and seconds."""
    summary = (await hash_kb.ingest([docs])).summary()
    assert summary.startswith("documents: 2 added, 0 updated, 0 unchanged, 0 removed, 0 failed; 3 chunks")
    assert summary.endswith(" s")


async def test_progress_bar_goes_to_stderr(hash_kb: KnowledgeBase, docs: Path, capsys) -> None:
    """With progress=True a tqdm bar is written to stderr and nothing to stdout."""
    await hash_kb.ingest([docs], progress=True)
    captured = capsys.readouterr()
    assert "ingest" in captured.err and "2/2" in captured.err and captured.out == ""


async def test_remove_document_drops_it_from_every_index(hash_kb: KnowledgeBase, docs: Path) -> None:
    """Removing a document deletes its registry entry, its vectors and its BM25 entries."""
    await hash_kb.ingest([docs])
    doc_id = doc_id_for("policies/a.txt")
    ids = await hash_kb.store.kb.chunk_ids(doc_id)
    assert await hash_kb.remove_document(doc_id) is True
    assert await hash_kb.store.kb.get_document(doc_id) is None
    assert hash_kb.vectors.existing(ids) == set()
    assert await hash_kb.search_lexical("概念验证平台") == []
    assert await hash_kb.remove_document(doc_id) is False


async def test_uploaded_bytes_are_kept_and_ingested(hash_kb: KnowledgeBase, kb_settings) -> None:
    """An upload is saved under data_dir/uploads and ingested as `uploads/<name>`."""
    report = await hash_kb.ingest_bytes("措施.txt", "每年布局100余项关键核心技术攻关。".encode("gbk"))
    assert report.added == 1
    assert (kb_settings.data_dir / "uploads" / "措施.txt").exists()
    assert (await hash_kb.store.kb.list_documents())[0].source == "uploads/措施.txt"


async def test_uploading_an_unsupported_type_is_refused(hash_kb: KnowledgeBase) -> None:
    """An upload with an unsupported extension raises DocumentError and writes nothing."""
    with pytest.raises(DocumentError, match="unsupported"):
        await hash_kb.ingest_bytes("macro.exe", b"MZ")


async def test_ingest_if_empty_loads_the_bundled_documents_once(hash_kb: KnowledgeBase) -> None:
    """An empty store gets the bundled documents; a non-empty one is left alone."""
    first = await hash_kb.ingest_if_empty()
    assert first is not None and first.added == len(list(bundled_documents_dir().glob("*.txt")))
    assert (await hash_kb.store.kb.list_documents())[0].source.startswith("bundled/")
    assert await hash_kb.ingest_if_empty() is None


async def test_a_sidecar_sets_the_cited_title_and_url_and_its_change_updates_the_document(
        hash_kb: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "meta"
    folder.mkdir()
    (folder / "a.txt").write_text("一、总则\n青岛市设立海洋创新券，每家企业每年最高50万元。", encoding="utf-8")
    (folder / "a.txt.meta.toml").write_text('title = "海洋创新券管理办法"\nurl = "https://example.gov.cn/a"\n',
                                            encoding="utf-8")
    first = await hash_kb.ingest([folder])
    (doc,) = await hash_kb.store.kb.list_documents()
    (chunk,) = await hash_kb.store.kb.all_chunks()
    assert first.added == 1 and doc.title == "海洋创新券管理办法" and chunk.source == "https://example.gov.cn/a"
    (folder / "a.txt.meta.toml").write_text('title = "海洋创新券实施细则"\n', encoding="utf-8")
    second = await hash_kb.ingest([folder])
    assert second.updated == 1 and (await hash_kb.store.kb.list_documents())[0].title == "海洋创新券实施细则"
    (folder / "a.txt.meta.toml").write_text('title = "unterminated\n', encoding="utf-8")
    third = await hash_kb.ingest([folder])
    assert third.failed == 1 and "metadata" in third.failures[0][1]
