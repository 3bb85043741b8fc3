"""How often the sentences a model is shown hold the evidence: for each (k, prompt_sentences) pair,
the share of answerable items whose every evidence quote (and at least one) is among the
`prompt_sentences` best sentences of the k passages retrieved. No language model: seconds, so the
size of what the select strategy shows can be chosen on the dev split before a model run.

    python scripts/sentence_pool.py eval/rare_earths_qa.jsonl --split dev --index eval/runs/idx
"""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant import sentences
from assistant.evaluation.dataset import load_dataset
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.text import normalise

PAIRS = ((5, 12), (5, 16), (5, 20), (8, 12), (8, 16), (8, 20), (10, 16), (10, 20))


def holds(quote: str, sentence: str) -> bool:
    """The sentence is (part of) the quote or holds most of its words: quotes are clauses, sentences whole."""
    q, s = normalise(quote), normalise(sentence)
    return q[:60] in s or s[:60] in q or len(set(q.split()) & set(s.split())) >= 0.6 * len(set(q.split()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--index", default="index")
    args = parser.parse_args()
    items = [i for i in load_dataset(Path(args.dataset), args.split) if i.type != "unanswerable"]
    bot = Assistant(Settings(llm="extractive", index_dir=Path(args.index)))
    for k, count in PAIRS:
        every = some = 0
        for item in items:
            hits = bot.retriever.search(item.question, k=k)
            shown = [(hits[s.n - 1].chunk.doc_id, s.text)
                     for s in sentences.best(sentences.rank(bot.embedder, item.question, hits), count)]
            found = [any(d == doc and holds(quote, text) for d, text in shown)
                     for doc, quote in zip(item.sources, item.evidence)]
            every += all(found)
            some += any(found)
        print(f"k={k:<3} sentences={count:<3} every quote {every / len(items):.3f}  "
              f"some quote {some / len(items):.3f}  ({len(items)} {args.split} items)")


if __name__ == "__main__":
    main()
