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
            # Every turn a model read and answered, whether the answer was then given or withheld (a
            # backend without a model: every answer it gave).
            asked = answer.usage.get("prompt_tokens")
            if "first_token" in answer.timings_ms and (asked or not answer.refused):
                firsts.append(answer.timings_ms["first_token"])
                totals.append(answer.timings_ms["total"])
                if asked:
                    prompt_tokens.append(asked)
        log(f"run {run}: {len(firsts)} answers so far, first token p50 {statistics.median(firsts) if firsts else 0:.0f} ms")
    if not firsts:
        raise InputError("the model was asked no question (none matched the index); give questions the index can answer")
    return {
        "llm": assistant.llm.name, "k": settings.k, "answers": len(firsts), "runs": runs,
        "prompt_tokens_median": statistics.median(prompt_tokens) if prompt_tokens else None,
        "first_token_ms_p50": statistics.median(firsts), "first_token_ms_p95": percentile(firsts, 95),
        "answer_ms_p50": statistics.median(totals),
    }


# -- whole processes: cold start ---------------------------------------------------------------

COLD_QUESTION = DEFAULT_QUESTIONS[0]


def _assistant_command(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "assistant", *args]


def _env() -> dict:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def time_to_prompt(index_dir: Path, timeout: float = 120.0) -> float:
    """Seconds from starting `assistant chat --llm extractive` to its prompt on stdout."""
    import subprocess

    started = time.perf_counter()
    proc = subprocess.Popen(_assistant_command("chat", "--llm", "extractive", "--index", str(index_dir)),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env())
    seen = b""
    assert proc.stdout is not None and proc.stdin is not None  # both are pipes
    try:
        while "›".encode() not in seen:
            piece = proc.stdout.read1(4096) if hasattr(proc.stdout, "read1") else proc.stdout.read(1)
            if not piece or time.perf_counter() - started > timeout:
                raise InputError("assistant chat ended before showing its prompt")
            seen += piece
        elapsed = time.perf_counter() - started
        proc.stdin.write(b"/quit\n")
        proc.stdin.close()
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return elapsed


def bench_cold_start(settings: Settings, runs: int, log: Callable[[str], None]) -> dict:
    """Whole processes, as a user who scripts `ask` or opens `chat` meets them: medians of `runs`."""
    import subprocess

    index_dir = str(Path(settings.index_dir))
    asks, prompts, helps = [], [], []
    for run in range(1, runs + 1):
        started = time.perf_counter()
        done = subprocess.run(_assistant_command("ask", COLD_QUESTION, "--llm", "extractive", "--index", index_dir),
                              capture_output=True, text=True, env=_env())
        asks.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise InputError(f"assistant ask failed: {done.stderr.strip()[-300:]}")
        prompts.append(time_to_prompt(Path(index_dir)))
        started = time.perf_counter()
        subprocess.run(_assistant_command("--help"), capture_output=True, env=_env(), check=True)
        helps.append(time.perf_counter() - started)
        log(f"run {run}: ask {asks[-1]:.2f} s, chat prompt {prompts[-1]:.2f} s, --help {helps[-1]:.2f} s")
    return {
        "runs": runs, "question": COLD_QUESTION,
        "ask_extractive_s_median": round(statistics.median(asks), 3), "ask_s_all": [round(x, 3) for x in asks],
        "chat_prompt_s_median": round(statistics.median(prompts), 3),
        "help_s_median": round(statistics.median(helps), 3),
    }


# -- indexing at the model's speed ---------------------------------------------------------------

def bench_index(settings: Settings, corpus: Path, weeks: str | None, articles: int | None,
                log: Callable[[str], None], runs: int = 1, work_dir: Path | None = None) -> dict:
    """`assistant index` as a whole process (start-up, model load, reading, cleaning, chunking,
    embedding, BM25, writing) on pooled RealTime QA articles, beside raw `SentenceTransformer.encode`
    of the very passages it embedded (model already loaded), alternately `runs` times; wall and CPU
    seconds, medians. The ratio is index passages/s over raw passages/s."""
    import json as _json
    import os
    import subprocess
    import tempfile

    from assistant.embedders import sentence_transformer
    from assistant.evaluation.realtimeqa import choose_weeks, pool_articles
    from assistant.store import embedding_input, load_index

    chosen = choose_weeks(Path(corpus), weeks)
    rows = pool_articles(Path(corpus), chosen)[: articles or None]
    reference = sentence_transformer(settings.embedder)._model
    walls, cpus, raw_walls, raw_cpus = [], [], [], []
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        corpus_file = Path(tmp) / "corpus.jsonl"
        corpus_file.write_text("".join(_json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        env = {**_env(), **{f"ASSISTANT_{k.upper()}": str(v) for k, v in settings.index_config().items()
                            if k in ("chunk_tokens", "chunk_overlap_tokens", "embedder", "embed_titles")}}
        for run in range(1, runs + 1):
            index_dir = Path(tmp) / f"index-{run}"
            log(f"run {run}: `assistant index` of {len(rows)} articles (weeks {','.join(chosen)}) as a whole process")
            before = os.times()
            started = time.perf_counter()
            done = subprocess.run(_assistant_command("index", str(corpus_file), "--index", str(index_dir)),
                                  capture_output=True, text=True, env=env)
            walls.append(time.perf_counter() - started)
            after = os.times()
            cpus.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
            if done.returncode != 0:
                raise InputError(f"assistant index failed: {done.stderr.strip()[-300:]}")
            index = load_index(settings.model_copy(update={"index_dir": index_dir}), check=False)
            texts = [embedding_input(c, index.documents[c.doc_id], index.manifest["config"]["embed_titles"])
                     for c in index.chunks]
            stored = index.vector_matrix()
            log(f"run {run}: raw SentenceTransformer.encode of the same {len(texts)} passages")
            before = os.times()
            started = time.perf_counter()
            raw = reference.encode(texts, batch_size=settings.embed_batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
            raw_walls.append(time.perf_counter() - started)
            after = os.times()
            raw_cpus.append((after.user - before.user) + (after.system - before.system))
            log(f"run {run}: index {walls[-1]:.1f} s ({cpus[-1]:.1f} s CPU), raw encode {raw_walls[-1]:.1f} s "
                f"({raw_cpus[-1]:.1f} s CPU): ratio {raw_walls[-1] / walls[-1]:.3f}")
    tokens = sum(len(ids) for ids in reference.tokenizer(texts, add_special_tokens=False)["input_ids"])
    cosine = (raw * stored).sum(axis=1)
    n, docs = len(texts), len(index.documents)
    wall, raw_wall = statistics.median(walls), statistics.median(raw_walls)
    return {
        "weeks": chosen, "documents": docs, "passages": n, "tokens": tokens, "runs": runs,
        "index_process_s": round(wall, 2), "index_cpu_s": round(statistics.median(cpus), 2),
        "index_documents_per_s": round(docs / wall, 2),
        "index_passages_per_s": round(n / wall, 1), "index_tokens_per_s": round(tokens / wall),
        "raw_encode_s": round(raw_wall, 2), "raw_encode_cpu_s": round(statistics.median(raw_cpus), 2),
        "raw_passages_per_s": round(n / raw_wall, 1), "raw_tokens_per_s": round(tokens / raw_wall),
        "ratio_index_to_raw": round(statistics.median([r / w for r, w in zip(raw_walls, walls)]), 3),
        "ratio_cpu": round(statistics.median([r / w for r, w in zip(raw_cpus, cpus)]), 3),
        "stored_vs_raw_min_cosine": round(float(cosine.min()), 6),
    }
