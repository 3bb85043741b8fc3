"""The vector index past the exact-search threshold: IVF with an HNSW coarse quantizer on 20k
synthetic vectors (the 1M run is `assistant bench retrieval --synthetic 1000000`)."""

import numpy as np
import pytest

import faiss  # noqa: E402

from assistant import vector_index  # noqa: E402
from assistant.vector_bench import synthetic_vectors  # noqa: E402


@pytest.fixture(scope="module")
def data():
    matrix, centres = synthetic_vectors(20_000)
    questions, _ = synthetic_vectors(300, centres=centres, seed=1)
    return matrix, questions


@pytest.fixture(scope="module")
def ivf(data, tmp_path_factory):
    matrix, _ = data
    index = vector_index.build(matrix, threshold=5_000, target_recall=0.95)
    path = tmp_path_factory.mktemp("ivf") / "vectors.faiss"
    faiss.write_index(index, str(path))
    return index, path


def test_small_collections_stay_exact(data):
    matrix, questions = data
    index = vector_index.build(matrix[:3000], threshold=5_000)
    assert not vector_index.is_ivf(index) and index.ntotal == 3000
    _, found = index.search(questions, 10)
    assert vector_index.recall_at(found, vector_index.exact_top(questions, matrix[:3000], 10)) == 1.0
    empty = vector_index.build(np.zeros((0, 384), np.float32), threshold=5_000)
    assert empty.ntotal == 0


def test_ivf_reaches_the_recall_target_on_fresh_questions(data, ivf):
    matrix, questions = data
    index, _ = ivf
    assert vector_index.is_ivf(index) and index.ntotal == len(matrix)
    inner = faiss.extract_index_ivf(index)
    assert isinstance(faiss.downcast_index(inner.quantizer), faiss.IndexHNSW)
    chosen = inner.nprobe
    assert 1 <= chosen < inner.nlist  # chosen, and cheaper than scanning every list
    _, found = index.search(questions, 10)
    assert vector_index.recall_at(found, vector_index.exact_top(questions, matrix, 10)) >= 0.95
    # A lower nprobe finds less: the choice is a real trade, not a constant.
    vector_index.set_nprobe(index, 1)
    _, fewer = index.search(questions, 10)
    vector_index.set_nprobe(index, chosen)
    assert vector_index.recall_at(fewer, vector_index.exact_top(questions, matrix, 10)) <= \
        vector_index.recall_at(found, vector_index.exact_top(questions, matrix, 10))


def test_ivf_file_reopens_memory_mapped_with_its_nprobe(data, ivf):
    matrix, questions = data
    index, path = ivf
    opened = vector_index.read(path)
    assert faiss.extract_index_ivf(opened).nprobe == faiss.extract_index_ivf(index).nprobe
    _, a = index.search(questions[:20], 10)
    _, b = opened.search(questions[:20], 10)
    assert np.array_equal(a, b)
    assert np.allclose(opened.reconstruct(123), matrix[123], atol=1e-6)  # rows readable for MMR
    rows = opened.reconstruct_batch(np.array([5, 17, 19999], dtype=np.int64))
    assert np.allclose(rows, matrix[[5, 17, 19999]], atol=1e-6)


def test_filtered_search_on_ivf_returns_only_allowed_rows(data, ivf):
    _, questions = data
    index, _ = ivf
    allowed = np.arange(0, 20_000, 3, dtype=np.int64)
    params = vector_index.search_parameters(index, faiss.IDSelectorBatch(allowed))
    _, found = index.search(questions[:10], 10, params=params)
    hits = found[found >= 0]
    assert len(hits) > 50 and (hits % 3 == 0).all()


def test_sq8_codec_keeps_recall(data):
    matrix, questions = data
    index = vector_index.build(matrix, threshold=5_000, codec="sq8", target_recall=0.95)
    assert "SQ8" in vector_index.factory_string(len(matrix), "sq8", 384)
    _, found = index.search(questions, 10)
    assert vector_index.recall_at(found, vector_index.exact_top(questions, matrix, 10)) >= 0.93
