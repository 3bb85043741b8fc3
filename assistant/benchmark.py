"""Speed measured the way a user meets it, printed as medians over repeated runs (this machine is noisy).

- retrieval: query embedding + dense search + BM25 + fusion + MMR, warm, per question;
- first token: from pressing Enter to the first streamed token of the answer, model loaded (a chat turn).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from assistant.errors import InputError
from assistant.evaluation.metrics import percentile
from assistant.settings import Settings

DEFAULT_QUESTIONS = [
    "Which rare earth metals did China stop exporting in April 2025?",
    "What share of rare earth refining does China control?",
    "Who is Wu Xinbo?",
    "Which automakers received temporary export licences?",
    "What did Kevin Hassett say about the talks in London?",
]


def load_questions(path: Path | None, limit: int) -> list[str]:
    """Questions from a QA set ("question") or RealTime QA ("question_sentence") file."""
    if path is None:
        return DEFAULT_QUESTIONS[:limit]
    questions = []
    for file in sorted(path.glob("*_qa.jsonl")) if path.is_dir() else [path]:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                q = row.get("question") or row.get("question_sentence")
                if q:
                    questions.append(q)
    if not questions:
        raise InputError(f"{path}: no questions found (need 'question' or 'question_sentence' fields)")
    return questions[:limit]


def bench_retrieval(settings: Settings, questions: list[str], runs: int, log: Callable[[str], None]) -> dict:
    from assistant.embedders import load_embedder
    from assistant.retrieval import Retriever
    from assistant.store import load_index

    retriever = Retriever(load_index(settings), load_embedder(settings.embedder, settings.embed_batch_size), settings)
    for q in questions[:3]:
        retriever.search(q)  # warm: first calls pay for lazy set-up
    p50s, p95s = [], []
    for run in range(1, runs + 1):
        times = []
        for q in questions:
            started = time.perf_counter()
            retriever.search(q)
            times.append((time.perf_counter() - started) * 1000)
        p50s.append(percentile(times, 50))
        p95s.append(percentile(times, 95))
        log(f"run {run}: p50 {p50s[-1]:.1f} ms, p95 {p95s[-1]:.1f} ms over {len(times)} questions")
    return {
        "passages": len(retriever.index.chunks), "documents": len(retriever.index.documents),
        "questions": len(questions), "runs": runs, "retrieval": settings.retrieval,
        "p50_ms_median": statistics.median(p50s), "p95_ms_median": statistics.median(p95s),  # type: ignore[type-var]
    }


def bench_first_token(settings: Settings, questions: list[str], runs: int, log: Callable[[str], None]) -> dict:
    from assistant.pipeline import Assistant

    assistant = Assistant(settings)  # loads the model once, as a chat session does
    assistant.ask(questions[0])  # warm-up turn
    firsts, totals, prompt_tokens = [], [], []
    for run in range(1, runs + 1):
        for q in questions:
            answer = assistant.ask(q)
            if "first_token" in answer.timings_ms and not answer.refused:
                firsts.append(answer.timings_ms["first_token"])
                totals.append(answer.timings_ms["total"])
                if answer.usage.get("prompt_tokens"):
                    prompt_tokens.append(answer.usage["prompt_tokens"])
        log(f"run {run}: {len(firsts)} answers so far, first token p50 {statistics.median(firsts) if firsts else 0:.0f} ms")
    if not firsts:
        raise InputError("no question was answered (all refused); give questions the index can answer")
    return {
        "llm": assistant.llm.name, "k": settings.k, "answers": len(firsts), "runs": runs,
        "prompt_tokens_median": statistics.median(prompt_tokens) if prompt_tokens else None,
        "first_token_ms_p50": statistics.median(firsts), "first_token_ms_p95": percentile(firsts, 95),
        "answer_ms_p50": statistics.median(totals),
    }
