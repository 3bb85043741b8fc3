"""How often the sentences a model is shown hold the evidence: for each k and each number of
sentences shown (`prompt_sentences`), the share of answerable items whose every evidence quote (and
at least one) lies in those best sentences of the k passages retrieved, by the eval's own test of a
quote lying in a passage (metrics.passage_holds). No language model: minutes, so what the select
strategy shows can be chosen on the dev split before a model run.

    python scripts/sentence_pool.py eval/rare_earths_qa.jsonl --split dev --index eval/runs/idx
    python scripts/sentence_pool.py eval/rare_earths_qa.jsonl --index eval/runs/idx --set sentence_overlap_idf=true
    python scripts/sentence_pool.py eval/rare_earths_qa.jsonl --index eval/runs/idx --k 5 --count 12 --prior 0 --prior 0.1

On RealTime QA (the pooled weeks and index `assistant eval realtimeqa` builds), a question counts
when a shown sentence holds its gold choice, for the questions whose choice is in the corpus:

    python scripts/sentence_pool.py realtimeqa:../shared/benchmarks/realtimeqa --split dev
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant import sentences
from assistant.evaluation import metrics
from assistant.pipeline import Assistant
from assistant.retrieval import Filters
from assistant.settings import Settings

KS = (5, 8, 10)
COUNTS = (12, 16, 20)


def qa_items(bot: Assistant, dataset: Path, split: str):
    """(question, day asked, test of the shown sentences: (every quote, some quote)) of each answerable item."""
    from assistant.evaluation.dataset import load_dataset
    from assistant.evaluation.runner import evidence_records

    for item in load_dataset(dataset, split):
        if item.type == "unanswerable":
            continue
        evidence = evidence_records(item, bot.index.documents)

        def test(shown: list[dict], evidence=evidence) -> tuple[bool, bool]:
            found = metrics.evidence_found(shown, evidence)
            return bool(metrics.evidence_hit(found, len(evidence))), bool(metrics.evidence_hit_any(found, len(evidence)))

        yield item.question, "", test


def realtimeqa_items(root: Path, split: str):
    """The in-corpus questions of the weeks, asked on their quiz's date; a shown sentence holding the
    gold choice is a hit."""
    from assistant.evaluation import realtimeqa
    from assistant.ingest import load_documents

    weeks = realtimeqa.choose_weeks(root, None, split)
    work = realtimeqa.default_work_dir(weeks)
    documents = load_documents([work / "corpus.jsonl"])
    pooled = realtimeqa.pool_text(documents)
    questions = []
    for q in realtimeqa.load_questions(root, weeks):
        golds = realtimeqa.gold_texts(q)
        if not realtimeqa.holds_gold(pooled, golds):
            continue

        def test(shown: list[dict], golds=golds) -> tuple[bool, bool]:
            hit = any(realtimeqa.holds_gold(metrics.normalise(x["text"]), golds) for x in shown)
            return hit, hit

        questions.append((q["question"], q["as_of"], test))
    return work / "index", questions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", help="a QA .jsonl, or realtimeqa:FOLDER")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--index", default="index")
    parser.add_argument("--set", action="append", default=[], help="setting=value (JSON value)")
    parser.add_argument("--k", type=int, action="append", help=f"passages retrieved (repeatable; default {KS})")
    parser.add_argument("--count", type=int, action="append", help=f"sentences shown (repeatable; default {COUNTS})")
    parser.add_argument("--prior", type=float, action="append",
                        help="sentence_passage_prior values to compare (repeatable; default the setting)")
    args = parser.parse_args()
    overrides = {k: json.loads(v) for k, v in (x.split("=", 1) for x in args.set)}
    if args.dataset.startswith("realtimeqa:"):
        index, items = realtimeqa_items(Path(args.dataset.split(":", 1)[1]), args.split)
    else:
        index, items = Path(args.index), None
    bot = Assistant(Settings(llm="extractive", index_dir=index, **overrides))
    s = bot.settings
    if items is None:
        items = list(qa_items(bot, Path(args.dataset), args.split))
    idf = bot.index.bm25.idf if s.sentence_overlap_idf else None
    ks, counts = args.k or KS, args.count or COUNTS
    priors = args.prior or [s.sentence_passage_prior]
    every = dict.fromkeys(((k, c, p) for k in ks for c in counts for p in priors), 0)
    some = dict(every)
    for question, as_of, test in items:
        for k in ks:  # the ranking depends on k alone; each count and prior takes its best sentences
            hits = bot.retriever.search(question, k=k, filters=Filters(as_of=as_of))
            ranked = sentences.rank(bot.embedder, question, hits, s.sentence_min_words, s.sentence_overlap_bonus, idf)
            for count in counts:
                for prior in priors:
                    shown = [{"doc_id": hits[x.n - 1].chunk.doc_id, "text": x.text, "start": x.start, "end": x.end}
                             for x in sentences.best(ranked, count, prior)]
                    all_in, any_in = test(shown)
                    every[k, count, prior] += all_in
                    some[k, count, prior] += any_in
    print(f"settings: {overrides or 'defaults'}")
    for k, count, prior in every:
        print(f"k={k:<3} sentences={count:<3} passage prior={prior:<5} "
              f"every quote {every[k, count, prior] / len(items):.3f}  "
              f"some quote {some[k, count, prior] / len(items):.3f}  ({len(items)} {args.split} items)")


if __name__ == "__main__":
    main()
