"""Index updates that do not rebuild everything (issue 11): BM25 tokenizes only new chunks and
recomputes its scores from stored term counts; the IVF index is kept and added to / removed from;
documents can be removed by id or file. Each is checked against a build from scratch."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from assistant import vector_index
from assistant.errors import ConfigError
from assistant.indexing import index_paths
from assistant.lexical import COUNTS_FILE, BM25Index, tokenize
from assistant.settings import Settings
from assistant.store import CURRENT, embedding_input, load_index, remove_documents
from assistant.vector_bench import synthetic_vectors

from robustness.helpers import article, one_line_error, run_cli, use_hash_embedder

QUERIES = ["council budget", "w1 w2 w3 w4", "harbour harbour town", "rare earth exports china", "w17", "nothing-here"]


def random_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(400)] + ["council", "harbour", "budget", "town", "rare", "earth", "china", "the"]
    return [" ".join(rng.choices(words, k=rng.randint(0, 60))) for _ in range(n)]


# -- BM25 ------------------------------------------------------------------------------------------

def test_bm25_scores_are_bm25s_scores_bit_for_bit():
    bm25s = pytest.importorskip("bm25s")
    texts = random_texts(1500)
    model = bm25s.BM25()
    model.index([tokenize(t) or [""] for t in texts], show_progress=False)
    ours = BM25Index.build(texts)
    for q in QUERIES:
        tokens = [t for t in tokenize(q) if t in model.vocab_dict]
        expected = np.asarray(model.get_scores(tokens), np.float32) if tokens else np.zeros(len(texts), np.float32)
        assert np.array_equal(ours.scores(q), expected), q


def test_bm25_built_in_two_steps_equals_one_build(tmp_path):
    texts = random_texts(1200)
    once = BM25Index.build(texts)
    first = BM25Index.build(texts[:700])
    first.save(tmp_path / "a")
    both = BM25Index.update(BM25Index.load(tmp_path / "a"), np.arange(700), texts[700:])  # from the saved files
    both.save(tmp_path / "ab")
    reloaded = BM25Index.load(tmp_path / "ab")
    for q in QUERIES:
        assert np.array_equal(both.scores(q), once.scores(q)), q
        assert np.array_equal(reloaded.scores(q), once.scores(q)), q


def test_bm25_removal_equals_never_indexing():
    texts = random_texts(1000, seed=3)
    kept = np.r_[0:150, 400:1000]  # 250 chunks removed
    removed_then = BM25Index.update(BM25Index.build(texts), kept, texts[1000:])
    never = BM25Index.build([texts[i] for i in kept])
    for q in QUERIES:
        assert np.array_equal(removed_then.scores(q), never.scores(q)), q
    assert removed_then._vocab.keys() == never._vocab.keys(), "terms no chunk holds leave the vocabulary"
    # removal and addition in one update, with new terms
    mixed = BM25Index.update(BM25Index.build(texts), kept, ["brand new words here", "", "council w1"])
    scratch = BM25Index.build([texts[i] for i in kept] + ["brand new words here", "", "council w1"])
    for q in QUERIES + ["brand new words"]:
        assert np.array_equal(mixed.scores(q), scratch.scores(q)), q


# -- IVF -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vectors():
    matrix, centres = synthetic_vectors(12_000, dim=64)
    extra, _ = synthetic_vectors(2_000, dim=64, centres=centres, seed=5)
    questions, _ = synthetic_vectors(200, dim=64, centres=centres, seed=9)
    return matrix, extra, questions


def _saved(index, path: Path):
    import faiss

    faiss.write_index(index, str(path))
    return vector_index.read(path)


def test_ivf_update_keeps_the_training_and_renumbers_ids(vectors, tmp_path):
    matrix, extra, questions = vectors
    built = vector_index.build(matrix, threshold=5_000)
    old = _saved(built, tmp_path / "v.faiss")
    kept = np.r_[0:1000, 3000:12_000]
    updated, trained_on = vector_index.update(old, tmp_path / "v.faiss", kept, extra, threshold=5_000,
                                              trained_on=12_000, retrain_growth=4.0)
    expected = np.vstack([matrix[kept], extra])
    assert vector_index.is_ivf(updated) and trained_on == 12_000 and updated.ntotal == len(expected)
    assert np.array_equal(updated.reconstruct_n(0, updated.ntotal), expected), "id i is row i of the new order"
    assert vector_index.faiss_nlist(updated) == vector_index.faiss_nlist(built)
    import faiss

    q_old = faiss.extract_index_ivf(old).quantizer.reconstruct_n(0, vector_index.faiss_nlist(old))
    q_new = faiss.extract_index_ivf(updated).quantizer.reconstruct_n(0, vector_index.faiss_nlist(updated))
    assert np.array_equal(q_old, q_new), "not retrained"
    _, found = updated.search(questions, 10)
    assert vector_index.recall_at(found, vector_index.exact_top(questions, expected, 10)) >= 0.9
    reread = _saved(updated, tmp_path / "v2.faiss")
    assert np.array_equal(reread.search(questions, 10)[1], found)


def test_ivf_retrains_past_the_growth_factor_and_turns_exact_below_the_threshold(vectors, tmp_path):
    matrix, extra, _ = vectors
    old = _saved(vector_index.build(matrix[:6000], threshold=5_000), tmp_path / "v.faiss")
    grown, trained_on = vector_index.update(old, tmp_path / "v.faiss", np.arange(6000), np.vstack([matrix[6000:], extra]),
                                            threshold=5_000, trained_on=6000, retrain_growth=2.0)
    assert vector_index.is_ivf(grown) and trained_on == 14_000
    shrunk, trained_on = vector_index.update(old, tmp_path / "v.faiss", np.arange(3000), extra[:0],
                                             threshold=5_000, trained_on=6000, retrain_growth=4.0)
    assert not vector_index.is_ivf(shrunk) and trained_on == 0
    assert np.array_equal(shrunk.reconstruct_n(0, 3000), matrix[:3000])


# -- the store ------------------------------------------------------------------------------------

def _write_articles(folder: Path, numbers) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        topic = ["the harbour", "the school budget", "rare earth exports", "the new bridge"][n % 4]
        (folder / f"a{n:04d}.txt").write_text(article(n, topic) + f"Extra words w{n % 7} and w{n % 11}.\n")


def _by_chunk(index, query: str) -> dict[str, float]:
    scores = index.bm25.scores(query)
    return {c.id: float(scores[i]) for i, c in enumerate(index.chunks)}


def _vectors_by_chunk(index) -> dict[str, bytes]:
    m = index.vector_matrix()
    return {c.id: m[i].tobytes() for i, c in enumerate(index.chunks)}


def test_index_updated_in_two_steps_equals_one_build(tmp_path, monkeypatch):
    use_hash_embedder(monkeypatch)
    _write_articles(tmp_path / "all", range(30))
    _write_articles(tmp_path / "first", range(20))
    two = Settings(index_dir=tmp_path / "two")
    index_paths([tmp_path / "first"], two)
    _write_articles(tmp_path / "first", range(20, 30))  # 10 articles added to the folder
    report = index_paths([tmp_path / "first"], two)
    assert len(report.added) == 10 and report.unchanged == 20
    one = Settings(index_dir=tmp_path / "one")
    index_paths([tmp_path / "all"], one)
    a, b = load_index(two), load_index(one)
    assert a.bm25.has_counts
    assert {d: (doc.title, doc.text) for d, doc in a.documents.items()} == \
        {d: (doc.title, doc.text) for d, doc in b.documents.items()}
    for q in ["harbour budget", "rare earth exports town", "w3 w5"]:
        assert _by_chunk(a, q) == _by_chunk(b, q), q
    assert _vectors_by_chunk(a) == _vectors_by_chunk(b)


def test_removed_documents_are_as_if_never_indexed(tmp_path, monkeypatch):
    use_hash_embedder(monkeypatch)
    _write_articles(tmp_path / "all", range(24))
    s = Settings(index_dir=tmp_path / "idx")
    index_paths([tmp_path / "all"], s)
    report = remove_documents(s, ["a0003", str(tmp_path / "all" / "a0010.txt")])
    assert report.removed == ["a0003", "a0010"] and report.documents == 22
    _write_articles(tmp_path / "rest", [n for n in range(24) if n not in (3, 10)])
    never = Settings(index_dir=tmp_path / "never")
    index_paths([tmp_path / "rest"], never)
    a, b = load_index(s), load_index(never)
    assert sorted(a.documents) == sorted(b.documents) and "a0003" not in a.documents
    for q in ["harbour budget", "rare earth exports town", "w3 w5", "report number 3"]:
        assert _by_chunk(a, q) == _by_chunk(b, q), q
    assert _vectors_by_chunk(a) == _vectors_by_chunk(b)
    before = (tmp_path / "idx" / CURRENT).read_text()
    with pytest.raises(ConfigError, match="not in the index: 'a0003'"):
        remove_documents(s, ["a0004", "a0003"])  # one unknown: nothing removed
    assert (tmp_path / "idx" / CURRENT).read_text() == before


def test_an_index_without_stored_term_counts_is_updated_by_a_full_bm25_build(tmp_path, monkeypatch):
    use_hash_embedder(monkeypatch)
    _write_articles(tmp_path / "docs", range(12))
    s = Settings(index_dir=tmp_path / "idx")
    index_paths([tmp_path / "docs"], s)
    gen = load_index(s).path
    (gen / "bm25" / COUNTS_FILE).unlink()  # as an index written before this change
    import json

    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["files"].pop(f"bm25/{COUNTS_FILE}"), manifest["sizes"].pop(f"bm25/{COUNTS_FILE}")
    (gen / "manifest.json").write_text(json.dumps(manifest))
    assert not load_index(s).bm25.has_counts
    _write_articles(tmp_path / "docs", range(12, 16))
    index_paths([tmp_path / "docs"], s)
    updated = load_index(s)
    assert updated.bm25.has_counts
    _write_articles(tmp_path / "scratch", range(16))
    scratch = Settings(index_dir=tmp_path / "scratch-idx")
    index_paths([tmp_path / "scratch"], scratch)
    for q in ["harbour budget", "w3 w5"]:
        assert _by_chunk(updated, q) == _by_chunk(load_index(scratch), q)


def test_store_keeps_the_ivf_index_and_retrains_past_the_growth_factor(tmp_path, monkeypatch):
    embedder = use_hash_embedder(monkeypatch)
    import json

    folder = tmp_path / "docs"
    folder.mkdir()

    def write_jsonl(name: str, numbers) -> None:
        with open(folder / name, "w") as f:
            for n in numbers:
                f.write(json.dumps({"id": f"d{n}", "title": f"Report {n}", "text": article(n)}) + "\n")

    write_jsonl("a.jsonl", range(1100))
    s = Settings(index_dir=tmp_path / "idx", ivf_threshold=1000, ivf_retrain_growth=1.5)
    index_paths([folder], s)
    first = load_index(s)
    assert vector_index.is_ivf(first.vectors) and first.manifest["ivf_trained_on"] == len(first.chunks)
    trained_on = first.manifest["ivf_trained_on"]
    write_jsonl("b.jsonl", range(1100, 1300))
    report = remove_documents(s, ["d5"])
    assert report.removed == ["d5"]
    index_paths([folder], s)  # d5 comes back, 200 added: the trained index is kept
    second = load_index(s)
    assert second.manifest["ivf_trained_on"] == trained_on and vector_index.is_ivf(second.vectors)
    import faiss

    texts = [embedding_input(c, second.documents[c.doc_id], True) for c in second.chunks]
    assert np.allclose(second.vector_matrix(), embedder.embed(texts), atol=1e-6), "id i is chunk i's vector"
    scores, found = second.vectors.search(embedder.embed(texts[:50]), 1)
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)
    remove_documents(s, [str(folder / "a.jsonl")])  # every record of a file
    assert set(load_index(s).documents) == {f"d{n}" for n in range(1100, 1300)}
    write_jsonl("a.jsonl", range(1100))
    write_jsonl("c.jsonl", range(1300, 1700))
    index_paths([folder], s)  # 1700 documents against 1100 trained on: retrained
    third = load_index(s)
    assert third.manifest["ivf_trained_on"] == len(third.chunks) > trained_on
    assert faiss.extract_index_ivf(third.vectors).ntotal == len(third.chunks)


def test_cli_remove(tmp_path, monkeypatch):
    use_hash_embedder(monkeypatch)
    _write_articles(tmp_path / "docs", range(6))
    s = Settings(index_dir=tmp_path / "idx")
    index_paths([tmp_path / "docs"], s)
    before = (tmp_path / "idx" / CURRENT).read_text()
    failed = run_cli("index", "--index", str(tmp_path / "idx"), "--remove", "a0001", "no-such-doc")
    one_line_error(failed, "no-such-doc", "nothing was removed")
    assert (tmp_path / "idx" / CURRENT).read_text() == before
    done = run_cli("index", "--index", str(tmp_path / "idx"), "--remove", "a0001", str(tmp_path / "docs" / "a0002.txt"))
    assert done.returncode == 0, done.stderr
    assert "Removed 2 documents" in done.stdout
    assert sorted(load_index(s).documents) == ["a0000", "a0003", "a0004", "a0005"]


def test_bm25_idf_counts_the_chunks_holding_a_term_in_memory_and_after_loading(tmp_path):
    import math

    texts = ["rare earth council", "rare earth", "rare harbour", "", "budget"]
    built = BM25Index.build(texts)
    built.save(tmp_path / "b")
    for bm in (built, BM25Index.load(tmp_path / "b")):
        for term, df in (("rare", 3), ("earth", 2), ("council", 1), ("nowhere", 0)):
            assert bm.idf(term) == pytest.approx(math.log(1 + (5 - df + 0.5) / (df + 0.5)))
        assert bm.idf("council") > bm.idf("earth") > bm.idf("rare")
