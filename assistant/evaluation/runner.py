"""Run a QA set through `Assistant.ask` (what `assistant ask` runs), score every item, summarise;
compare two saved runs."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.evaluation import metrics, oracle
from assistant.evaluation.dataset import QAItem, load_dataset
from assistant.settings import Settings

RANKING_DEPTH = 10  # MRR and nDCG look this deep, whatever k is
Progress = Callable[[int, int, "dict | None"], None]  # (done, total, the item just scored; None before the first)


def passage_record(hit) -> dict:
    """A hit as scored and saved: the text and span the model was shown."""
    start, end = (hit.context_start, hit.context_end) if hit.context else (hit.chunk.start, hit.chunk.end)
    return {"doc_id": hit.chunk.doc_id, "chunk_id": hit.chunk.id, "start": start, "end": end, "text": hit.shown_text}


def sentence_record(sentence, hits) -> dict:
    """A sentence shown to the model, as scored and saved: its passage number, document and span."""
    return {"n": sentence.n, "doc_id": hits[sentence.n - 1].chunk.doc_id, "start": sentence.start,
            "end": sentence.end, "text": sentence.text, "score": round(sentence.score, 4)}


def citation_record(citation) -> dict:
    return {"n": citation.n, "doc_id": citation.doc_id, "chunk_id": citation.chunk_id, "quote": citation.quote}


class QuestionRunner:
    """Answers a question as `assistant ask` does, and ranks passages deeper for MRR/nDCG.
    With `retrieval_only` no language model is loaded and nothing is generated."""

    def __init__(self, settings: Settings, *, retrieval_only: bool = False, filters=None, llm=None):
        from assistant.retrieval import Filters

        self.settings = settings
        self.filters = filters or Filters()
        self.assistant = None
        if retrieval_only:
            from assistant.embedders import load_embedder
            from assistant.retrieval import Retriever
            from assistant.store import load_index

            embedder = load_embedder(settings.embedder, settings.embed_batch_size)
            self.retriever = Retriever(load_index(settings), embedder, settings)
        else:
            from assistant.pipeline import Assistant

            self.assistant = Assistant(settings, llm=llm)
            self.retriever = self.assistant.retriever
        self.index = self.retriever.index

    def shown_sentences(self, question: str, hits) -> list[dict]:
        """The sentences the `select` strategy shows a language model for these passages (the same
        two calls it makes), whatever the strategy of this run."""
        from assistant import sentences

        ranked = sentences.ranking(self.retriever.embedder, self.index, question, hits, self.settings)
        return [sentence_record(x, hits) for x in sentences.shown(ranked, self.settings)]

    @property
    def llm_name(self) -> str | None:
        return self.assistant.llm.name if self.assistant else None

    def run(self, question: str, as_of: str = "") -> tuple[dict, list[dict], dict]:
        """(prediction, the deeper ranking's passages, timings in ms); `as_of`: the day it was asked."""
        k = self.settings.k
        filters = dataclasses.replace(self.filters, as_of=as_of) if as_of else self.filters
        if self.assistant:
            answer = self.assistant.ask(question, k=k, filters=filters)
            shown = list(answer.hits)
            prediction = {
                "answer": answer.answer, "refused": answer.refused, "decision": answer.decision,
                "confidence": answer.confidence,
                "citations": [citation_record(c) for c in answer.citations],
                "removed_claims": list(answer.removed_claims), "withheld": answer.withheld,
                "recited": [list(pair) for pair in answer.recited],
                "strategy": answer.strategy, "selection": dict(answer.selection),
                "claims": [dataclasses.asdict(c) for c in answer.claims],
            }
            timings = {"retrieval": answer.timings_ms["retrieval"], "total": answer.timings_ms["total"]}
        else:
            started = time.perf_counter()
            shown = self.retriever.search(question, k=k, filters=filters)
            prediction = {"answer": None, "refused": None, "citations": []}
            timings = {"retrieval": (time.perf_counter() - started) * 1000}
        prediction["passages"] = [passage_record(h) for h in shown]
        started = time.perf_counter()
        prediction["sentences"] = self.shown_sentences(question, shown)
        timings["sentences"] = (time.perf_counter() - started) * 1000
        # A second, deeper search rather than the first k of it: MMR's candidate pool grows with k, so
        # the top k of a deeper search can differ from the k passages `ask` showed the model.
        if k >= RANKING_DEPTH:
            ranking = prediction["passages"]
        else:
            ranking = [passage_record(h) for h in self.retriever.search(question, k=RANKING_DEPTH, filters=filters)]
        return prediction, ranking, timings  # type: ignore[return-value]

    def with_oracle(self, keys: dict) -> "QuestionRunner":
        """This runner's index, embedder and settings, answering through the oracle reader with the
        `select` strategy (see oracle.py)."""
        import copy

        from assistant.evaluation.oracle import OracleLLM

        other = copy.copy(self)
        reader = other.assistant = copy.copy(self.assistant)
        assert reader is not None, "the oracle answers; a retrieval-only runner does not"
        reader.llm, reader.strategy = OracleLLM(keys), "select"
        return other


def llm_model(llm: str | None, settings: Settings) -> str | None:
    if llm == "openai":
        return settings.openai_model
    if llm == "local":
        return str(settings.gguf_path) if settings.gguf_path else "packaged Qwen2.5-Coder-1.5B-Instruct"
    return None


def run_config(settings: Settings, runner: QuestionRunner, *, dataset: str, items: int, retrieval_only: bool) -> dict:
    llm: Any = runner.assistant.llm if runner.assistant else None
    cache = {"completion_cache": str(llm.store.path), "completion_hits": llm.hits, "completion_misses": llm.misses,
             "completion_replay": llm.replay} if hasattr(llm, "store") else {}
    calibrator = getattr(runner.assistant, "calibrator", None)
    if calibrator is not None:
        cache["decision_threshold"] = calibrator.threshold
    return {**cache,
        "settings_fingerprint": settings.fingerprint(),
        "index_fingerprint": settings.index_fingerprint(),
        "embedder": runner.index.manifest.get("embedder", settings.embedder),
        "llm": runner.llm_name,
        "strategy": runner.assistant.strategy if runner.assistant else None,
        "llm_model": llm_model(runner.llm_name, settings),
        "k": settings.k,
        "ranking_depth": max(settings.k, RANKING_DEPTH),
        "retrieval": settings.retrieval,
        "retrieval_only": retrieval_only,
        "filters": dataclasses.asdict(runner.filters),
        "dataset": str(dataset),
        "items": items,
        "index": str(settings.index_dir),
        "index_documents": len(runner.index.documents),
        "index_chunks": len(runner.index.chunks),
    }


def evidence_records(item: QAItem, documents: dict) -> list[dict]:
    """Each quote with its span in the indexed (cleaned) document, -1 when it is not there."""
    records = []
    for doc_id, quote in zip(item.sources, item.evidence):
        doc = documents.get(doc_id)
        start, end = metrics.locate_quote(quote, doc.text) if doc else (-1, -1)
        records.append({"doc_id": doc_id, "quote": quote, "start": start, "end": end})
    return records


def score_item(item: QAItem, prediction: dict, ranking: list[dict], timings: dict, documents: dict) -> dict:
    evidence = evidence_records(item, documents)
    scores = metrics.retrieval_scores(prediction["passages"], ranking, evidence, item.sources)
    scores.update(metrics.sentence_scores(prediction["sentences"], evidence))
    if prediction["answer"] is not None:
        scores.update(metrics.answer_scores(prediction, item.must_include, item.sources, item.answerable, item.type,
                                            item.verdict))
    return {
        "id": item.id, "type": item.type, "difficulty": item.difficulty, "question": item.question,
        "reference": item.answer, "prediction": prediction,
        "ranking": [p["chunk_id"] for p in ranking], "scores": scores,
        "timings_ms": {stage: round(ms, 1) for stage, ms in timings.items()},
    }


def check_sources(items: Sequence[QAItem], documents: dict, index_dir: Path, warn: Callable[[str], None] | None) -> None:
    """Evidence scores mean nothing against an index of other articles: say so early."""
    gold = {s for it in items for s in it.sources}
    missing = sorted(gold - set(documents))
    if gold and len(missing) == len(gold):
        raise InputError(
            f"the index in {index_dir}/ holds none of the QA set's source documents ({', '.join(missing[:3])}, ...); "
            "index them first (assistant index articles) or pass --index"
        )
    if missing and warn:
        warn(f"the index lacks {len(missing)} source document(s) of the QA set: {', '.join(missing)}")


def run_eval(
    dataset_path: Path,
    settings: Settings,
    *,
    limit: int | None = None,
    retrieval_only: bool = False,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    judge: str | None = None,
    filters=None,
    split: str | None = None,
) -> dict:
    """{"config", "summary", "items"}: every item asked with `settings` (k = settings.k, `filters` if
    given) and scored;
    with `judge` (a backend name) also judged by that LLM (see evaluation/judge.py)."""
    items = load_dataset(dataset_path, split)[:limit]
    keys = oracle.qa_keys(items)
    is_oracle = settings.llm == "oracle"
    runner = QuestionRunner(settings, retrieval_only=retrieval_only, filters=filters,
                            llm=oracle.OracleLLM(keys) if is_oracle and not retrieval_only else None)
    documents = runner.index.documents
    check_sources(items, documents, settings.index_dir, warn)
    judging = None
    if judge:
        from assistant.evaluation import judge as judge_module

        judging = judge_module.make_judge(judge, settings, runner.assistant.llm if runner.assistant else None)
    results = []
    if progress:
        progress(0, len(items), None)
    for done, item in enumerate(items, 1):
        prediction, ranking, timings = runner.run(item.question)
        results.append(score_item(item, prediction, ranking, timings, documents))
        if judging:
            judging.score(results[-1])
        if progress:
            progress(done, len(items), results[-1])
    if not retrieval_only:
        by_id = {it.id: it for it in items}
        sort_misses(results, runner, keys,
                    lambda reader, result: score_item(by_id[result["id"]], *reader.run(result["question"]), documents))
    config = run_config(settings, runner, dataset=str(dataset_path), items=len(results), retrieval_only=retrieval_only)
    config["split"] = split or "all"
    summary = metrics.summarise(results)
    if judging:
        config["judge"] = judging.name
        judge_module.add_summary(summary, results)
    return {"config": config, "summary": summary, "items": results}


def sort_misses(results: list[dict], runner: QuestionRunner, keys: dict,
                answer: Callable[[QuestionRunner, dict], dict]) -> None:
    """Each result gets `oracle` (whether the oracle reader's first line is right, and whether every
    evidence quote was among the sentences shown) and, when its own first line is wrong, `miss`:
    why (oracle.MISSES). The oracle needs no model: its pass costs retrieval and the checks alone.
    `answer(runner, result)` asks a result's question again through another runner and scores it."""
    own = runner.assistant is not None and isinstance(runner.assistant.llm, oracle.OracleLLM)
    reader = runner if own else runner.with_oracle(keys)
    covered = reader.assistant.llm.covered  # type: ignore[union-attr]
    for result in results:
        scored = result if own else answer(reader, result)
        shown, total = covered.get(result["question"], (0, 0))
        result["oracle"] = {"direct_correct": scored["scores"].get("direct_correct"),
                            "evidence_shown": total > 0 and shown == total}
        result["miss"] = oracle.classify(result, result["oracle"])


# -- saved runs ----------------------------------------------------------------------------------

def save_result(result: dict, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load_result(path: Path) -> dict:
    path = Path(path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a JSON file ({type(e).__name__})") from None
    if not isinstance(result, dict) or not {"config", "summary", "items"} <= set(result):
        raise InputError(f"{path}: not an eval result (written by assistant eval --json)")
    return result


ITEM_FLAGS = ("correct", "evidence_hit", "shown_evidence_hit", "answer_in_passages", "answer_in_sentences")  # per-item changes worth listing


def _union(*keys_lists: Sequence[str]) -> list[str]:
    out: list[str] = []
    for keys in keys_lists:
        out.extend(k for k in keys if k not in out)
    return out


def compare(a: dict, b: dict) -> dict:
    """What changed from run `a` to run `b`: config, every summary metric (with b - a), and the
    items whose correctness or evidence hit changed."""
    config = {
        key: [a["config"].get(key), b["config"].get(key)]
        for key in _union(a["config"], b["config"])
        if a["config"].get(key) != b["config"].get(key)
    }
    rows = []
    sa, sb = a["summary"], b["summary"]
    groups = {"overall": (sa["overall"], sb["overall"])}
    for t in _union(sa["by_type"], sb["by_type"]):
        groups[t] = (sa["by_type"].get(t, {}), sb["by_type"].get(t, {}))
    for group, (ga, gb) in groups.items():
        for metric in _union(ga, gb):
            va, vb = ga.get(metric), gb.get(metric)
            delta = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
            rows.append({"group": group, "metric": metric, "a": va, "b": vb, "delta": delta})
    items_a = {it["id"]: it for it in a["items"]}
    items_b = {it["id"]: it for it in b["items"]}
    changed = []
    for item_id, ia in items_a.items():
        ib = items_b.get(item_id)
        if ib is None:
            continue
        changes = {
            flag: [ia["scores"].get(flag), ib["scores"].get(flag)]
            for flag in ITEM_FLAGS
            if ia["scores"].get(flag) != ib["scores"].get(flag)
        }
        if changes:
            changed.append({"id": item_id, "type": ia["type"], "question": ia.get("question", ""), "changes": changes})
    return {
        "config": config,
        "metrics": rows,
        "items": changed,
        "only_in_a": [i for i in items_a if i not in items_b],
        "only_in_b": [i for i in items_b if i not in items_a],
    }
