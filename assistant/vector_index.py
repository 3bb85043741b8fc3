"""The dense index: exact inner product (IndexFlatIP) for small collections; above
`settings.ivf_threshold` vectors, an inverted file whose coarse quantizer is an HNSW graph
(`IVF{nlist}_HNSW32,{Flat|SQ8}`), trained on a sample of the vectors themselves, with `nprobe`
chosen as the smallest that finds `settings.ivf_recall` of the exact top 10 on perturbed copies of
stored vectors. nprobe and the graph's efSearch are stored in the FAISS file itself.

Files are read memory-mapped where FAISS can (IVF lists and flat codes), so opening a million-vector
index does not read 1.5 GB. Nothing is pickled.

Updates (`update`): an IVF index is kept, not retrained: the rows of removed chunks are removed,
the ids of the rows that stay are renumbered to their new positions (ids are chunk positions), and
new vectors are added with the next ids; its nprobe stays. It is retrained (a full `build`) only
when it has grown `retrain_growth` times past the size it was trained at, when the codec setting
changed, or when it crosses `threshold` either way. The exact flat index is rebuilt (a copy of its
rows: well under a second at the 200,000-row threshold)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

RECALL_MARGIN = 0.02
NPROBES = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def nlist_for(n: int) -> int:
    """About sqrt(n) lists, a power of two, at least 16: k-means stays cheap on 2 cores."""
    return max(16, 2 ** round(math.log2(max(1.0, math.sqrt(n)))))


def factory_string(n: int, codec: str, dim: int) -> str:
    """SQ8 stores a vector in a quarter of the bytes. (PQ was tried: 96 sub-quantizers took 8 minutes
    to train on 8k vectors and reached a recall@10 of 0.67 at any nprobe, so it is not offered.)"""
    codecs = {"flat": "Flat", "sq8": "SQ8"}
    return f"IVF{nlist_for(n)}_HNSW32,{codecs[codec]}"


def is_ivf(index) -> bool:
    import faiss

    return isinstance(faiss.downcast_index(index), faiss.IndexIVF)


def build(
    matrix: np.ndarray,
    *,
    threshold: int,
    codec: str = "flat",
    target_recall: float = 0.95,
    log: Callable[[str], None] | None = None,
    seed: int = 0,
):
    """A FAISS index over the rows of `matrix` (unit vectors), row i searchable as id i."""
    import faiss

    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    n, dim = matrix.shape
    if n < max(threshold, 1) or n < 1024:
        index: faiss.Index = faiss.IndexFlatIP(dim)
        if n:
            index.add(matrix)
        return index
    started = time.perf_counter()
    spec = factory_string(n, codec, dim)
    index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.max_points_per_centroid = 64  # a 64-per-list sample: minutes of k-means become seconds
    ivf.cp.seed = seed
    sample = matrix[np.random.default_rng(seed).choice(n, min(n, ivf.nlist * 64), replace=False)]
    if log:
        log(f"training {spec} on {len(sample)} of {n} vectors")
    index.train(sample)
    for start in range(0, n, 65536):
        index.add(matrix[start:start + 65536])
    ivf.make_direct_map()  # reconstruct(row), used to diversify results
    # Probes are stored vectors moved off themselves; real questions are a little harder (at 1M:
    # 0.954 on probes was 0.946 on fresh questions), hence the margin.
    nprobe, recall = choose_nprobe(index, matrix, min(1.0, target_recall + RECALL_MARGIN), seed=seed)
    if log:
        log(f"{spec}: nprobe {nprobe} finds {recall:.3f} of the exact top 10; built in {time.perf_counter() - started:.1f} s")
    return index


def update(
    old,
    old_file: Path | None,
    kept_rows: np.ndarray,
    new: np.ndarray,
    *,
    threshold: int,
    trained_on: int,
    retrain_growth: float,
    codec: str = "flat",
    target_recall: float = 0.95,
    log: Callable[[str], None] | None = None,
) -> tuple:
    """(index, trained_on): the index over old's rows `kept_rows` (ascending) followed by `new`,
    row i searchable as id i. `old_file` is where `old` was read from (an IVF index is re-read
    from it whole: the memory-mapped copy cannot be written); `trained_on` is how many vectors
    old's IVF was trained on."""
    import faiss

    kept_rows = np.asarray(kept_rows, dtype=np.int64)
    new = np.ascontiguousarray(new, dtype=np.float32).reshape(-1, old.d)
    n = len(kept_rows) + len(new)
    grown = trained_on > 0 and n >= retrain_growth * trained_on
    same_codec = old_file is not None and is_ivf(old) and _codec_of(old) == codec
    if not (same_codec and n >= max(threshold, 1024) and not grown):
        if is_ivf(old) and log and n >= max(threshold, 1024):
            log(f"retraining the IVF index: {n:,} vectors, trained on {trained_on:,}")
        kept = _rows(old, kept_rows)
        matrix = np.vstack([kept, new]) if len(new) else kept
        index = build(matrix, threshold=threshold, codec=codec, target_recall=target_recall, log=log)
        return index, (n if is_ivf(index) else 0)
    started = time.perf_counter()
    index = faiss.read_index(str(old_file))  # whole, writable
    ivf = faiss.extract_index_ivf(index)
    assert ivf.invlists is not None
    invlists = faiss.downcast_InvertedLists(ivf.invlists)
    if not isinstance(invlists, faiss.ArrayInvertedLists):  # not expected from read_index; be safe
        raise RuntimeError(f"cannot update inverted lists of type {type(invlists).__name__}")
    old_n = int(index.ntotal)
    ivf.set_direct_map_type(faiss.DirectMap.NoMap)  # type: ignore[attr-defined]  # remove_ids needs it off; rebuilt below
    removed = np.setdiff1d(np.arange(old_n, dtype=np.int64), kept_rows, assume_unique=True)
    if len(removed):
        index.remove_ids(faiss.IDSelectorBatch(removed))
        position = np.full(old_n, -1, np.int64)
        position[kept_rows] = np.arange(len(kept_rows), dtype=np.int64)
        for list_no in range(ivf.nlist):  # ids are chunk positions: renumber in place
            size = invlists.list_size(list_no)
            if size:
                ids = faiss.rev_swig_ptr(invlists.get_ids(list_no), size)
                ids[:] = position[ids]
    for start in range(0, len(new), 65536):
        block = new[start:start + 65536]
        index.add_with_ids(block, np.arange(len(kept_rows) + start, len(kept_rows) + start + len(block), dtype=np.int64))
    ivf.make_direct_map()
    if log:
        log(f"IVF index updated in {time.perf_counter() - started:.1f} s: {len(removed):,} removed, {len(new):,} added, "
            f"{n:,} in all (trained on {trained_on:,}; retrained at {retrain_growth:g}x)")
    return index, trained_on


def _rows(index, rows: np.ndarray) -> np.ndarray:
    """The stored vectors of `rows`, as a float32 matrix."""
    import faiss

    if len(rows) == 0:
        return np.zeros((0, index.d), np.float32)
    flat = faiss.downcast_index(index)
    if isinstance(flat, faiss.IndexFlat) and not isinstance(flat, faiss.IndexFlatL2) or type(flat) is faiss.IndexFlatIP:
        codes = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
        return codes[rows]  # a copy of those rows, straight from the (memory-mapped) codes
    if len(rows) == index.ntotal and np.array_equal(rows, np.arange(index.ntotal)):
        return index.reconstruct_n(0, index.ntotal)
    return index.reconstruct_batch(rows)


def _codec_of(index) -> str:
    import faiss

    ivf = faiss.extract_index_ivf(index)
    return "sq8" if isinstance(faiss.downcast_index(ivf), faiss.IndexIVFScalarQuantizer) else "flat"


def set_nprobe(index, nprobe: int) -> None:
    import faiss

    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = nprobe
    quantizer = faiss.downcast_index(ivf.quantizer)
    if isinstance(quantizer, faiss.IndexHNSW):
        quantizer.hnsw.efSearch = max(64, 2 * nprobe)  # the graph must offer at least nprobe lists


def perturbed_queries(matrix: np.ndarray, count: int, seed: int = 0, noise: float = 0.6) -> np.ndarray:
    """Stored vectors moved off themselves (cosine ~0.85 to the original): question-like probes
    whose exact neighbours are not trivially themselves."""
    rng = np.random.default_rng(seed + 1)
    rows = matrix[rng.choice(len(matrix), min(count, len(matrix)), replace=False)]
    q = rows + rng.normal(scale=noise / math.sqrt(matrix.shape[1]), size=rows.shape).astype(np.float32)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def exact_top(queries: np.ndarray, matrix: np.ndarray, k: int) -> np.ndarray:
    import faiss

    _, ids = faiss.knn(queries, matrix, k, metric=faiss.METRIC_INNER_PRODUCT)
    return ids


def recall_at(found: np.ndarray, exact: np.ndarray) -> float:
    k = exact.shape[1]
    return float(np.mean([len(set(f[f >= 0]) & set(e)) / k for f, e in zip(found, exact)]))


def choose_nprobe(index, matrix: np.ndarray, target: float, k: int = 10, seed: int = 0,
                  queries: np.ndarray | None = None) -> tuple[int, float]:
    """The smallest nprobe whose recall@k against exact search reaches `target`; it is set on the index."""
    queries = perturbed_queries(matrix, 256, seed) if queries is None else queries
    exact = exact_top(queries, matrix, k)
    nlist = faiss_nlist(index)
    recall = 0.0
    for nprobe in [p for p in NPROBES if p < nlist] + [nlist]:
        set_nprobe(index, nprobe)
        _, found = index.search(queries, k)
        recall = recall_at(found, exact)
        if recall >= target:
            return nprobe, recall
    return nlist, recall


def faiss_nlist(index) -> int:
    import faiss

    return int(faiss.extract_index_ivf(index).nlist)


def search_parameters(index, selector):
    """Search parameters restricting to `selector` that this index type accepts."""
    import faiss

    if is_ivf(index):
        ivf = faiss.extract_index_ivf(index)
        return faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe)
    return faiss.SearchParameters(sel=selector)


def read(path: Path):
    """Memory-mapped where FAISS supports it: IVF lists (IO_FLAG_MMAP) and flat codes
    (IO_FLAG_MMAP_IFC); the two flags together fail on IVF files, so the file's type is read first."""
    import faiss

    with open(path, "rb") as f:
        fourcc = f.read(4)
    mmap_flag = faiss.IO_FLAG_MMAP if fourcc.startswith(b"Iw") else getattr(faiss, "IO_FLAG_MMAP_IFC", 0)
    try:
        return faiss.read_index(str(path), mmap_flag | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        return faiss.read_index(str(path))
