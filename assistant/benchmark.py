"""Speed measured the way a user meets it, printed as medians over repeated runs (this machine is noisy).

- retrieval: query embedding + dense search + BM25 + fusion + MMR, warm, per question;
- first token: from pressing Enter to the first streamed token of the answer, model loaded (a chat turn);
- answer: a whole answer with the local model, split into llama.cpp reading, llama.cpp writing,
  sampling and our own code, against llama.cpp's own speed on the same tokens (the floor).
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


def load_questions(path: Path | None, limit: int, split: str | None = None) -> list[str]:
    """Questions from a QA set ("question") or RealTime QA ("question_sentence") file; with
    `split`, only a QA set's items of that split."""
    if path is None:
        return DEFAULT_QUESTIONS[:limit]
    questions = []
    for file in sorted(path.glob("*_qa.jsonl")) if path.is_dir() else [path]:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                q = row.get("question") or row.get("question_sentence")
                if q and (split is None or row.get("split") == split):
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


# -- an answer against llama.cpp's own speed ------------------------------------------------------

ANSWER_FIELDS = ("calls", "prompt_tokens", "read_tokens", "reused_tokens", "last_call_read_tokens", "last_call_reused_tokens",
                 "generated_tokens", "decodes", "drafted_tokens",
                 "prompt_s", "generate_s", "sampling_s", "ours_s", "answer_s",
                 "floor_prompt_s", "floor_read_s", "floor_generate_s", "floor_s", "ratio", "ratio_same_work")


def bench_answer(settings: Settings, questions: list[str], runs: int, log: Callable[[str], None],
                 chat: bool = False) -> dict:
    """Whole answers with the local model loaded (as in chat, serve and eval: one process, one
    question after another), each split into llama.cpp reading the prompt, llama.cpp writing, the
    rest of the model call (template, grammar, sampling) and our own code (retrieval, ranking,
    checks); beside each, the floor: llama.cpp through llama-cpp-python on a second context of the
    same model, reading a prompt of the same tokens from scratch and decoding the same reply, with
    nothing else. Medians over the answers that asked the model. With `chat`, each question comes
    with the ones before it as the conversation, as in `assistant chat` (follow-ups are rewritten
    first: `last_call_*` is then the answer's own call)."""
    from assistant.pipeline import Assistant

    assistant = Assistant(settings.model_copy(update={"completion_cache": None}))  # cached replies time nothing
    calls = getattr(assistant.llm, "calls", None)
    if calls is None:
        raise InputError(f"bench answer measures the local model (--llm local); this is {assistant.llm.name}")
    floor = _floor_model(assistant.llm)
    assistant.ask(questions[0])  # warm-up: first calls pay for lazy set-up
    rows, unasked = [], 0
    for run in range(1, runs + 1):
        history: list[tuple[str, str]] = []
        for q in questions:
            calls.clear()
            started = time.perf_counter()
            answer = assistant.ask(q, history=history[-3:] if chat else ())
            answer_s = time.perf_counter() - started
            history.append((answer.query or q, answer.answer))
            made = list(calls)
            if not made:
                unasked += 1  # refused before the model was asked: nothing to compare
                continue
            rows.append(_answer_row(made, answer_s, floor))
        log(f"run {run}: {len(rows)} answers, answer p50 {statistics.median(r['answer_s'] for r in rows):.2f} s, "
            f"floor p50 {statistics.median(r['floor_s'] for r in rows):.2f} s" if rows else f"run {run}: no answers")
    if not rows:
        raise InputError("the model was asked no question (all refused before it); give questions the index can answer")
    medians = {f"{key}_median": round(statistics.median(r[key] for r in rows), 3) for key in ANSWER_FIELDS}
    read_rate = [r["prompt_tokens"] / r["floor_prompt_s"] for r in rows if r["floor_prompt_s"] > 0]
    write_rate = [(r["generated_tokens"] - 1) / r["floor_generate_s"] for r in rows if r["floor_generate_s"] > 0]
    return {
        "llm": assistant.llm.name, "threads": settings.n_threads, "questions": len(questions), "runs": runs, "chat": chat,
        "answers": len(rows), "not_asked": unasked, **medians,
        "answer_s_p95": round(percentile([r["answer_s"] for r in rows], 95) or 0, 3),
        "floor_read_tokens_per_s": round(statistics.median(read_rate), 1) if read_rate else None,
        "floor_write_tokens_per_s": round(statistics.median(write_rate), 1) if write_rate else None,
    }


def _floor_model(llm):
    """A plain llama-cpp-python `Llama` on the local backend's model file, as it was loaded."""
    from llama_cpp import Llama

    from assistant.llms.local import _quiet_stderr

    with _quiet_stderr():
        return Llama(model_path=str(llm.path), n_ctx=llm.context_window, n_threads=llm.n_threads,
                     n_threads_batch=llm.n_threads, verbose=False)


def _answer_row(calls: list, answer_s: float, floor) -> dict:
    """One answer's counts and times, and its floor: every call's prompt read from scratch (the
    opening it shared with the prompt before, then the rest, timed apart), then its reply decoded
    token by token (n tokens need n - 1 decodes after the prompt)."""
    floor_prompt = floor_read = floor_generate = 0.0
    for call in calls:
        floor.reset()
        kept = list(call.prompt_ids[:call.reused_tokens])
        started = time.perf_counter()
        if kept:
            floor.eval(kept)
        middle = time.perf_counter()
        floor.eval(list(call.prompt_ids[call.reused_tokens:]))
        floor_prompt += time.perf_counter() - started
        floor_read += time.perf_counter() - middle
        started = time.perf_counter()
        for token in call.generated_ids[:-1]:
            floor.eval([token])
        floor_generate += time.perf_counter() - started
    model_s = sum(c.total_s for c in calls)
    row = {
        "calls": len(calls), "prompt_tokens": sum(c.prompt_tokens for c in calls),
        "last_call_reused_tokens": calls[-1].reused_tokens,
        "last_call_read_tokens": calls[-1].prompt_tokens - calls[-1].reused_tokens,
        "reused_tokens": sum(c.reused_tokens for c in calls),
        "generated_tokens": sum(c.generated_tokens for c in calls),
        "decodes": sum(c.decodes for c in calls), "drafted_tokens": sum(c.drafted_tokens for c in calls),
        "prompt_s": sum(c.prompt_s for c in calls), "generate_s": sum(c.generate_s for c in calls),
        "answer_s": answer_s, "floor_prompt_s": floor_prompt, "floor_read_s": floor_read,
        "floor_generate_s": floor_generate,
    }
    row["read_tokens"] = row["prompt_tokens"] - row["reused_tokens"]
    row["sampling_s"] = model_s - row["prompt_s"] - row["generate_s"]
    row["ours_s"] = answer_s - model_s
    row["floor_s"] = floor_prompt + floor_generate
    row["ratio"] = answer_s / row["floor_s"] if row["floor_s"] > 0 else 0.0
    same_work = floor_read + floor_generate  # the tokens we actually read, and the same reply
    row["ratio_same_work"] = answer_s / same_work if same_work > 0 else 0.0
    return row
