"""How often the sentences a model is shown hold the evidence: for each k and each number of
sentences shown (`prompt_sentences`), the share of answerable items whose every evidence quote (and
at least one) lies in those best sentences of the k passages retrieved, by the eval's own test of a
quote lying in a passage (metrics.passage_holds). No language model: minutes, so the size of what the
select strategy shows can be chosen on the dev split before a model run.

    python scripts/sentence_pool.py eval/rare_earths_qa.jsonl --split dev --index eval/runs/idx
"""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant import sentences
from assistant.evaluation import metrics
from assistant.evaluation.dataset import load_dataset
from assistant.evaluation.runner import evidence_records
from assistant.pipeline import Assistant
from assistant.settings import Settings

KS = (5, 8, 10)
COUNTS = (12, 16, 20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--index", default="index")
    args = parser.parse_args()
    items = [i for i in load_dataset(Path(args.dataset), args.split) if i.type != "unanswerable"]
    bot = Assistant(Settings(llm="extractive", index_dir=Path(args.index)))
    s = bot.settings
    evidence = {item.id: evidence_records(item, bot.index.documents) for item in items}
    every = dict.fromkeys(((k, c) for k in KS for c in COUNTS), 0)
    some = dict(every)
    for item in items:
        for k in KS:  # the ranking depends on k alone; each count takes its best sentences
            hits = bot.retriever.search(item.question, k=k)
            ranked = sentences.rank(bot.embedder, item.question, hits, s.sentence_min_words, s.sentence_overlap_bonus)
            for count in COUNTS:
                shown = [{"doc_id": hits[x.n - 1].chunk.doc_id, "text": x.text, "start": x.start, "end": x.end}
                         for x in sentences.best(ranked, count)]
                found = metrics.evidence_found(shown, evidence[item.id])
                every[k, count] += bool(metrics.evidence_hit(found, len(evidence[item.id])))
                some[k, count] += bool(metrics.evidence_hit_any(found, len(evidence[item.id])))
    for k, count in every:
        print(f"k={k:<3} sentences={count:<3} every quote {every[k, count] / len(items):.3f}  "
              f"some quote {some[k, count] / len(items):.3f}  ({len(items)} {args.split} items)")


if __name__ == "__main__":
    main()
