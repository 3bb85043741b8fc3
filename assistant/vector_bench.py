"""`assistant bench retrieval --synthetic N`: the vector index at N vectors, without embedding N
passages. Vectors are clustered like sentence embeddings (unit vectors around random topic
centres, cosine ~0.7 to their centre); questions are fresh draws from the same clusters, never
stored. Reported: build time (train, add, nprobe choice), memory, file size, time to open the
file (memory-mapped, as `ask` opens it), single-question latency p50/p95 and recall@10 against
exact search."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def synthetic_vectors(n: int, dim: int = 384, clusters: int | None = None, seed: int = 0,
                      centres: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(n unit vectors, the cluster centres), built in blocks so memory stays ~ the result."""
    rng = np.random.default_rng(seed)
    if centres is None:
        clusters = clusters or max(16, n // 250)
        centres = rng.standard_normal((clusters, dim), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = rng.standard_normal((m, dim), dtype=np.float32)
        block *= np.float32(1 / np.sqrt(dim))
        block += centres[rng.integers(0, len(centres), m)]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + m] = block
    return out, centres


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_synthetic(n: int, settings, *, codec: str = "flat", queries: int = 1000,
                    log: Callable[[str], None] | None = None, work_dir: Path | None = None) -> dict:
    import faiss

    from assistant import vector_index

    log = log or (lambda _m: None)
    log(f"generating {n:,} clustered unit vectors (384-d) and {queries} questions")
    matrix, centres = synthetic_vectors(n)
    questions, _ = synthetic_vectors(queries, centres=centres, seed=1)
    threshold = settings.ivf_threshold if settings.ivf_threshold else n + 1
    rss_before = _rss_mb()
    started = time.perf_counter()
    index = vector_index.build(matrix, threshold=threshold, codec=codec, target_recall=settings.ivf_recall, log=log)
    build_s = time.perf_counter() - started
    rss_after = _rss_mb()
    kind = "IVF " + vector_index.factory_string(n, codec, 384) if vector_index.is_ivf(index) else "flat (exact)"

    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        path = Path(tmp) / "vectors.faiss"
        faiss.write_index(index, str(path))
        size_mb = path.stat().st_size / 2**20
        nprobe = faiss.extract_index_ivf(index).nprobe if vector_index.is_ivf(index) else None
        del index
        opens = []
        for _ in range(3):
            started = time.perf_counter()
            opened = vector_index.read(path)
            opens.append(time.perf_counter() - started)
            if len(opens) < 3:
                del opened
        rss_opened = _rss_mb()

        log(f"exact top 10 of {queries} questions by brute force")
        exact = vector_index.exact_top(questions, matrix, 10)
        found = np.empty_like(exact)
        times = []
        for i, q in enumerate(questions):
            started = time.perf_counter()
            _, ids = opened.search(q[None, :], 10)
            times.append((time.perf_counter() - started) * 1000)
            found[i] = ids[0]
        recall = vector_index.recall_at(found, exact)

        flat_times = []
        if vector_index.is_ivf(opened):  # what exact search would cost, for comparison
            flat = faiss.IndexFlatIP(matrix.shape[1])
            flat.add(matrix)
            for q in questions[:50]:
                started = time.perf_counter()
                flat.search(q[None, :], 10)
                flat_times.append((time.perf_counter() - started) * 1000)
            del flat
    result = {
        "vectors": n, "index": kind, "codec": codec if vector_index.is_ivf(opened) else "flat",
        "nprobe": nprobe, "target_recall": settings.ivf_recall,
        "build_s": round(build_s, 1), "build_rss_increase_mb": round(rss_after - rss_before),
        "file_mb": round(size_mb), "open_s_median": round(statistics.median(opens), 3),
        "rss_after_open_mb": round(rss_opened),
        "questions": queries, "recall_at_10": round(recall, 4),
        "latency_ms_p50": round(float(np.percentile(times, 50)), 2),
        "latency_ms_p95": round(float(np.percentile(times, 95)), 2),
    }
    if flat_times:
        result["exact_latency_ms_p50"] = round(float(np.percentile(flat_times, 50)), 2)
    return result
