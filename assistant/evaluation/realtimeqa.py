"""RealTime QA (Kasai et al., 2023) as a news benchmark.

The search results of the chosen weeks are pooled into one corpus (de-duplicated by URL), indexed
in a work folder (incrementally: a re-run embeds nothing), and each question is asked without its
four choices, as of its quiz's date (the recency prior ranks articles near that day higher, as
`ask` does for today). An answer is correct when it names the gold choice and no other. The gold article is
not always among the search results, so the share of questions whose gold choice text occurs
anywhere in the pooled corpus is reported too: the ceiling.

Folder layout (see its README.md): documents/YYYYMMDD_gcs.jsonl, questions/YYYYMMDD_qa.jsonl.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.evaluation import metrics, oracle
from assistant.evaluation.runner import Progress, QuestionRunner, run_config, sort_misses
from assistant.settings import Settings

WORK_ROOT = Path("eval/runs")  # git-ignored


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
    return rows


def available_weeks(root: Path) -> list[str]:
    """Weeks (YYYYMMDD) that have both search results and questions."""
    documents = {p.name.split("_")[0] for p in (root / "documents").glob("*_gcs.jsonl")}
    questions = {p.name.split("_")[0] for p in (root / "questions").glob("*_qa.jsonl")}
    return sorted(documents & questions)


DEV_WEEKS = 3  # the first weeks with questions: rules and thresholds are chosen on them; the rest is test


def choose_weeks(root: Path, weeks: str | None, split: str | None = None) -> list[str]:
    """The weeks asked for ("20230106,20230113"), checked; or those of a split (dev: the first
    DEV_WEEKS weeks with questions, test: the others); default: the first week only."""
    available = available_weeks(root)
    if not available:
        raise InputError(f"{root}: no RealTime QA weeks here (expected documents/*_gcs.jsonl and questions/*_qa.jsonl)")
    if split and weeks:
        raise InputError("give --weeks or --split, not both")
    if split:
        if split not in ("dev", "test"):
            raise InputError(f"unknown split {split!r} for realtimeqa; choose dev or test")
        return available[:DEV_WEEKS] if split == "dev" else available[DEV_WEEKS:]
    if not weeks:
        return available[:1]
    chosen = [w.strip() for w in weeks.split(",") if w.strip()]
    unknown = [w for w in chosen if w not in available]
    if unknown:
        raise InputError(f"no RealTime QA week {', '.join(unknown)} in {root}; weeks with questions: "
                         f"{available[0]} .. {available[-1]}")
    return sorted(set(chosen))


def article_id(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]


def pool_articles(root: Path, weeks: Sequence[str]) -> list[dict]:
    """The search results of the weeks as corpus rows (id, title, url, date, text), first copy of each URL."""
    rows: dict[str, dict] = {}
    for week in weeks:
        for line in _read_jsonl(root / "documents" / f"{week}_gcs.jsonl"):
            for result in line.get("search_result") or []:
                url, text = result.get("url") or "", result.get("text") or ""
                if not url or not text.strip() or url in rows:
                    continue
                date = (result.get("publish_date") or "")[:10].replace("/", "-")
                rows[url] = {"id": article_id(url), "title": result.get("title") or "", "url": url,
                             "date": date, "text": text}
    return list(rows.values())


def load_questions(root: Path, weeks: Sequence[str]) -> list[dict]:
    questions = []
    for week in weeks:
        path = root / "questions" / f"{week}_qa.jsonl"
        for row in _read_jsonl(path):
            try:
                choices = [str(c) for c in row["choices"]]
                gold = [int(a) for a in row["answer"]]
                questions.append({"id": row["question_id"], "question": row["question_sentence"],
                                  "choices": choices, "gold": gold, "as_of": _iso(row.get("question_date"))})
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{path}: question {row.get('question_id', '?')} lacks question_sentence, "
                                 "choices or answer") from None
            if not all(0 <= g < len(choices) for g in gold):
                raise InputError(f"{path}: question {row['question_id']}: answer index out of range")
    return questions


def _iso(date) -> str:
    """"2023/01/05" -> "2023-01-05"; "" when it is not a date."""
    text = str(date or "")[:10].replace("/", "-")
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        return ""


def write_corpus(rows: Sequence[dict], path: Path) -> None:
    """Rewritten only when its content changes, so its timestamp says when the pool last changed."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def index_corpus(documents, corpus: Path, settings: Settings, progress: Callable[[str], None] | None = None):
    """Bring the index up to date with the documents; skipped entirely when it already holds exactly
    them (a re-run then costs no embedding and no BM25 rebuild). Returns the BuildReport or None."""
    from assistant.embedders import load_embedder
    from assistant.store import build_index, index_exists, read_manifest

    rebuild = False
    if index_exists(settings.index_dir):
        manifest = read_manifest(settings.index_dir)
        same_config = manifest.get("config") == settings.index_config()
        if same_config and manifest.get("documents") == {d.id: d.content_hash for d in documents}:
            return None
        rebuild = not same_config  # the benchmark's own index: rebuilt, not refused, for other settings
    embedder = load_embedder(settings.embedder, settings.embed_batch_size, for_indexing=True)
    return build_index(documents, settings, embedder, sources=[str(corpus.resolve())], rebuild=rebuild,
                       progress=progress)


def pool_text(documents) -> str:
    """The pooled articles as one searchable, normalised string; the separator keeps a choice from
    matching across two articles."""
    return " | ".join(metrics.normalise(d.text) for d in documents)


def gold_texts(question: dict) -> list[str]:
    """A question's gold choices, normalised."""
    return [metrics.normalise(question["choices"][g]) for g in question["gold"]]


def holds_gold(normalised_text: str, golds: list[str]) -> bool:
    """A gold choice occurs in the text as whole words."""
    return any(metrics.says(normalised_text, g) for g in golds)


def score_question(q: dict, prediction: dict, ranking: list[dict], timings: dict, in_corpus: bool) -> dict:
    """One question's result: the gold choice in the passages and ranking, and the answer scored."""
    golds = gold_texts(q)

    def has_gold(passage: dict) -> bool:
        return holds_gold(metrics.normalise(passage["text"]), golds)

    scores: dict[str, Any] = {
        "answer_in_corpus": in_corpus,
        "answer_in_passages": any(map(has_gold, prediction["passages"])),
        "answer_in_sentences": any(map(has_gold, prediction["sentences"])),
        "mrr": metrics.reciprocal_rank([has_gold(p) for p in ranking]),
    }
    if prediction["answer"] is not None:
        refused = bool(prediction["refused"])

        def correct(text: str) -> bool:  # the gold answer is nowhere in the articles: refusing is right
            return (not refused and metrics.picks_choice(text, q["choices"], q["gold"])) or (not in_corpus and refused)

        line = metrics.direct_answer(prediction["answer"])
        limit = metrics.direct_word_limit([q["choices"][g] for g in q["gold"]])
        scores["direct_correct"] = correct(line) and (refused or metrics.word_count(line) <= limit)
        scores["correct"] = correct(prediction["answer"])
        scores["direct_words"] = None if refused else metrics.word_count(line)
        weighed = (prediction.get("selection") or {}).get("first_line")  # what the decision weighed
        scores["line_correct"] = (in_corpus and metrics.picks_choice(weighed, q["choices"], q["gold"])
                                  and metrics.word_count(weighed) <= limit) if weighed is not None else None
        scores["refused"] = prediction["refused"]
        scores["answer_words"] = metrics.word_count(prediction["answer"])
    return {
        "id": q["id"], "type": "in_corpus" if in_corpus else "not_in_corpus", "answerable": in_corpus,
        "question": q["question"], "as_of": q["as_of"],
        "reference": " / ".join(q["choices"][g] for g in q["gold"]), "choices": q["choices"],
        "prediction": prediction, "ranking": [p["chunk_id"] for p in ranking], "scores": scores,
        "timings_ms": {stage: round(ms, 1) for stage, ms in timings.items()},
    }


def default_work_dir(weeks: Sequence[str]) -> Path:
    """Where the pooled corpus and index of these weeks live between runs."""
    return WORK_ROOT / f"realtimeqa-{hashlib.sha256(','.join(weeks).encode()).hexdigest()[:8]}"


def run_realtimeqa(
    root: Path,
    settings: Settings,
    *,
    weeks: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    retrieval_only: bool = False,
    work_dir: Path | None = None,
    index_dir: Path | None = None,
    progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
) -> dict:
    """{"config", "summary", "items"} like `run_eval`; items are typed in_corpus / not_in_corpus."""
    from assistant.ingest import load_documents

    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder; give the RealTime QA folder (with documents/ and questions/)")
    chosen = choose_weeks(root, weeks, split)
    work = Path(work_dir) if work_dir else default_work_dir(chosen)
    corpus = work / "corpus.jsonl"
    write_corpus(pool_articles(root, chosen), corpus)
    settings = settings.model_copy(update={"index_dir": Path(index_dir) if index_dir else work / "index"})
    documents = load_documents([corpus])
    built = index_corpus(documents, corpus, settings, progress=say)
    if built and say:
        say(f"indexed {built.documents} articles ({built.chunks} passages, {built.embedded_chunks} embedded) "
            f"in {built.seconds:.0f} s into {settings.index_dir}/")
    pooled_text = pool_text(documents)

    questions = load_questions(root, chosen)[:limit]
    in_corpus = {q["id"]: holds_gold(pooled_text, gold_texts(q)) for q in questions}
    keys = oracle.choice_keys(questions, in_corpus)
    is_oracle = settings.llm == "oracle" and not retrieval_only
    runner = QuestionRunner(settings, retrieval_only=retrieval_only, llm=oracle.OracleLLM(keys) if is_oracle else None)
    by_id = {q["id"]: q for q in questions}

    def answer(reader: QuestionRunner, q: dict) -> dict:
        prediction, ranking, timings = reader.run(q["question"], as_of=q["as_of"])  # asked on its quiz's date
        return score_question(q, prediction, ranking, timings, in_corpus[q["id"]])

    results = []
    if progress:
        progress(0, len(questions), None)
    for done, q in enumerate(questions, 1):
        results.append(answer(runner, q))
        if progress:
            progress(done, len(questions), results[-1])
    if not retrieval_only:
        sort_misses(results, runner, keys, lambda reader, result: answer(reader, by_id[result["id"]]))
    config = run_config(settings, runner, dataset=f"realtimeqa:{root}", items=len(results), retrieval_only=retrieval_only)
    config.update(weeks=chosen, split=split or "weeks", work_dir=str(work), corpus_articles=len(documents))
    return {"config": config, "summary": metrics.summarise(results), "items": results}
