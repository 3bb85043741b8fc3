"""`assistant bench update --synthetic N`: the cost of adding (and removing) a batch of articles to
an index of N passages, incremental against a full rebuild, for the two parts that used to be
rebuilt from everything: BM25 and the vector index. Embedding is not measured (it is the same
either way: only new passages are embedded); neither is writing the other files of a generation.

Passages are synthetic: texts of ~45 words drawn from a Zipf-distributed vocabulary of made-up
words (so BM25 has realistic posting lists), vectors clustered like sentence embeddings
(vector_bench.synthetic_vectors). Each step includes saving its result, as an update does; the
two sides run alternately, `runs` times, and medians of wall and CPU time (all threads) are
reported: on a machine shared with other jobs the CPU times are the comparable ones."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

WORDS_PER_PASSAGE = 45  # ~64 word pieces of news text after the title prefix, stopwords included


def synthetic_texts(n: int, seed: int = 0, vocabulary: int = 60_000) -> list[str]:
    """n texts of ~45 words from a Zipf vocabulary (word i drawn with weight 1/(i+1))."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab_rng = np.random.default_rng(12345)  # the same vocabulary for every seed
    lengths = vocab_rng.integers(3, 11, vocabulary)
    words = np.array(["".join(letters[vocab_rng.integers(0, 26, k)]) for k in lengths])
    weights = 1.0 / np.arange(1, vocabulary + 1)
    cdf = np.cumsum(weights / weights.sum())
    sizes = rng.integers(WORDS_PER_PASSAGE - 15, WORDS_PER_PASSAGE + 16, n)
    draws = np.minimum(np.searchsorted(cdf, rng.random(int(sizes.sum()))), vocabulary - 1)
    out, start = [], 0
    for size in sizes:
        out.append(" ".join(words[draws[start:start + size]]))
        start += size
    return out


def bench_update(n: int, settings, *, articles: int = 100, passages_per_article: int = 57, runs: int = 3,
                 log: Callable[[str], None] | None = None, work_dir: Path | None = None) -> dict:
    import faiss

    from assistant import vector_index
    from assistant.lexical import BM25Index
    from assistant.vector_bench import synthetic_vectors

    log = log or (lambda _m: None)
    added = articles * passages_per_article
    log(f"generating {n:,} passages and {added:,} new ones ({articles} articles x {passages_per_article} passages)")
    base_vectors, centres = synthetic_vectors(n)
    new_vectors, _ = synthetic_vectors(added, centres=centres, seed=7)
    base_texts, new_texts = synthetic_texts(n), synthetic_texts(added, seed=7)
    threshold = settings.ivf_threshold or n + added + 1
    common = {"threshold": threshold, "codec": settings.ivf_codec, "target_recall": settings.ivf_recall}
    work = Path(tempfile.mkdtemp(prefix="assistant-bench-update-", dir=work_dir))
    try:
        log("building the starting index (BM25 and vectors) once")
        t = time.perf_counter()
        BM25Index.build(base_texts).save(work / "bm25-base")
        old_bm25 = BM25Index.load(work / "bm25-base")  # memory-mapped, as an update loads it
        faiss.write_index(vector_index.build(base_vectors, log=log, **common), str(work / "base.faiss"))
        old_vectors = vector_index.read(work / "base.faiss")
        trained_on = n if vector_index.is_ivf(old_vectors) else 0
        log(f"starting index built in {time.perf_counter() - t:.1f} s "
            f"({'IVF' if trained_on else 'exact flat'} vectors)")
        everything = np.arange(n, dtype=np.int64)
        all_texts = base_texts + new_texts
        all_vectors = np.vstack([base_vectors, new_vectors])
        kept_after_removal = np.arange(n - added, dtype=np.int64)  # the last `articles` articles removed

        def bm25_incremental():
            BM25Index.update(old_bm25, everything, new_texts).save(work / "bm25-new")

        def bm25_full():
            BM25Index.build(all_texts).save(work / "bm25-new")

        def bm25_remove():
            BM25Index.update(old_bm25, kept_after_removal, []).save(work / "bm25-new")

        def vectors_incremental():
            index, _ = vector_index.update(old_vectors, work / "base.faiss", everything, new_vectors, trained_on=trained_on,
                                           retrain_growth=settings.ivf_retrain_growth, **common)
            faiss.write_index(index, str(work / "new.faiss"))

        def vectors_full():
            faiss.write_index(vector_index.build(all_vectors, **common), str(work / "new.faiss"))

        def vectors_remove():
            index, _ = vector_index.update(old_vectors, work / "base.faiss", kept_after_removal, new_vectors[:0],
                                           trained_on=trained_on, retrain_growth=settings.ivf_retrain_growth, **common)
            faiss.write_index(index, str(work / "new.faiss"))

        steps = {"bm25_incremental": bm25_incremental, "bm25_full": bm25_full, "bm25_remove": bm25_remove,
                 "vectors_incremental": vectors_incremental, "vectors_full": vectors_full,
                 "vectors_remove": vectors_remove}
        times: dict[str, list[float]] = {name: [] for name in steps}
        cpu: dict[str, list[float]] = {name: [] for name in steps}
        for run in range(runs):
            for name, step in steps.items():
                t, c = time.perf_counter(), time.process_time()
                step()
                times[name].append(round(time.perf_counter() - t, 3))
                cpu[name].append(round(time.process_time() - c, 3))
                log(f"run {run + 1}/{runs}: {name} {times[name][-1]:.2f} s ({cpu[name][-1]:.2f} s of CPU)")
        median = {name: statistics.median(v) for name, v in times.items()}
        median_cpu = {name: statistics.median(v) for name, v in cpu.items()}
        return {
            "passages": n,
            "added_passages": added,
            "vectors": "ivf" if trained_on else "flat",
            "runs": runs,
            "median_s": median,
            "median_cpu_s": median_cpu,  # all threads: what the step costs on a machine shared with others
            "times_s": times,
            "speedup_bm25": round(median["bm25_full"] / median["bm25_incremental"], 1),
            "speedup_vectors": round(median["vectors_full"] / median["vectors_incremental"], 1),
            "speedup_total": round((median["bm25_full"] + median["vectors_full"])
                                   / (median["bm25_incremental"] + median["vectors_incremental"]), 1),
            "speedup_total_cpu": round((median_cpu["bm25_full"] + median_cpu["vectors_full"])
                                       / max(1e-9, median_cpu["bm25_incremental"] + median_cpu["vectors_incremental"]), 1),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
