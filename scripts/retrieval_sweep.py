"""Retrieval settings compared on a QA set, retrieval only (no LLM): one index per chunking.

    .venv/bin/python scripts/retrieval_sweep.py eval/rare_earths_qa.jsonl [--quick] [--embedder=NAME]
    .venv/bin/python scripts/retrieval_sweep.py eval/rare_earths_qa.jsonl --index=eval/runs/idx '{}' '{"window_sentences": 3}'

Prints one row per configuration; the tables in eval/HISTORY.md come from here. With --index, each
JSON argument is a set of changes to the default settings, run against that (default-chunked)
index, and the row names the items whose evidence was not all in the top k."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from assistant.evaluation.runner import run_eval
from assistant.indexing import index_paths
from assistant.settings import BUNDLED_ARTICLES_DIR, Settings

CHUNKINGS = [(64, 16), (96, 24), (128, 32), (128, 0), (192, 48), (250, 50)]
RETRIEVALS = [
    {"retrieval": "dense"}, {"retrieval": "bm25"}, {"retrieval": "hybrid"},
    {"retrieval": "hybrid", "max_per_document": 2}, {"retrieval": "hybrid", "max_per_document": 2, "window_sentences": 1},
]
QUICK_RETRIEVALS = RETRIEVALS + [
    {"retrieval": "hybrid", "mmr_lambda": 1.0}, {"retrieval": "hybrid", "mmr_lambda": 0.6},
    {"retrieval": "hybrid", "window_sentences": 1}, {"retrieval": "hybrid", "bm25_weight": 1.5},
    {"retrieval": "hybrid", "dense_weight": 1.5}, {"retrieval": "hybrid", "max_per_document": 1},
]
METRICS = ["evidence_hit", "evidence_hit_any", "source_recall", "mrr", "ndcg10"]


def main(dataset: Path, quick: bool, embedder: str) -> None:
    chunkings = [(128, 32)] if quick else CHUNKINGS
    root = Path(tempfile.mkdtemp(prefix="sweep-"))
    print("| chunk tokens | overlap | settings | " + " | ".join(METRICS) + " |")
    print("|---" * (3 + len(METRICS)) + "|")
    for tokens, overlap in chunkings:
        # Diversity quota and sentence windows off unless a row turns them on, so each row means what it says.
        base = Settings(index_dir=root / f"idx-{tokens}-{overlap}", chunk_tokens=tokens, chunk_overlap_tokens=overlap,
                        embedder=embedder, max_per_document=0, window_sentences=0)
        index_paths([BUNDLED_ARTICLES_DIR], base)
        for overrides in QUICK_RETRIEVALS if quick else RETRIEVALS:
            settings = base.model_copy(update=overrides)
            summary = run_eval(dataset, settings, retrieval_only=True)["summary"]["overall"]
            label = ", ".join(f"{k}={v}" for k, v in overrides.items())
            values = " | ".join(_fmt(summary.get(m)) for m in METRICS)
            print(f"| {tokens} | {overlap} | {label} | {values} |", flush=True)


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def changes(dataset: Path, index: Path, overrides: list[dict]) -> None:
    base = Settings(index_dir=index)
    for update in overrides or [{}]:
        result = run_eval(dataset, base.model_copy(update=update), retrieval_only=True)
        summary = result["summary"]["overall"]
        misses = [i["id"] for i in result["items"] if i["type"] != "unanswerable" and not i["scores"]["evidence_hit"]]
        values = " | ".join(_fmt(summary.get(m)) for m in METRICS)
        print(f"| {json.dumps(update)} | {values} | {', '.join(misses)} |", flush=True)


if __name__ == "__main__":
    embedder = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--embedder=")), "all-MiniLM-L6-v2")
    index = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--index=")), None)
    if index:
        changes(Path(sys.argv[1]), Path(index), [json.loads(a) for a in sys.argv[2:] if a.startswith("{")])
    else:
        main(Path(sys.argv[1]), "--quick" in sys.argv, embedder)
