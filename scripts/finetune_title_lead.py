"""Fine-tune the packaged all-MiniLM-L6-v2 on news title -> lead-passage pairs (issue 28's lever
"domain adaptation with free supervision").

A news article's title and its lead are a question-passage pair that costs nothing: no question and
no answer of the benchmark is read. The pairs come from RealTime QA's pooled search results of the
chosen weeks (default: the three dev weeks only, so the test weeks' articles stay unseen), cleaned
as the assistant cleans them (`clean_page_text`); the lead is the article's first passage as the
index chunks it (`chunk_tokens` word pieces, whole sentences). Training: sentence-transformers'
MultipleNegativesRankingLoss (in-batch negatives), AdamW, linear warm-up then decay, on CPU. A plain
torch loop, so neither `datasets` nor `accelerate` is needed.

    python scripts/finetune_title_lead.py ../shared/benchmarks/realtimeqa --out /tmp/minilm-news

The saved folder is a sentence-transformers folder: use it with `--set embedder=/tmp/minilm-news`.
Never commit the weights.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

DEV_WEEKS = "20230106,20230113,20230120"


def title_lead_pairs(root: Path, weeks: list[str], chunk_tokens: int, count) -> list[tuple[str, str]]:
    from assistant.chunking import chunk_document
    from assistant.clean import clean_page_text
    from assistant.evaluation.realtimeqa import pool_articles
    from assistant.ingest import sanitize
    from assistant.types import Document

    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for row in pool_articles(root, weeks):
        cleaned = clean_page_text(sanitize(row["text"]))
        title = " ".join(sanitize(row["title"] or cleaned.title).split())
        key = title.lower()
        if len(title.split()) < 3 or key in seen:  # a repeated title would be a false in-batch negative
            continue
        doc = Document(id=row["id"], text=cleaned.text, title=title)
        chunks = chunk_document(doc, count, chunk_tokens, 0)
        if not chunks or len(chunks[0].text.split()) < 20:
            continue
        seen.add(key)
        pairs.append((title, chunks[0].text))
    return pairs


def legacy_configs(packaged: Path, out: Path) -> None:
    """sentence-transformers 6 writes its module configs in a new layout that the assistant's numpy
    and torch engines do not read; the architecture is unchanged (only the weights are new), so the
    packaged model's configs are put back."""
    import shutil

    for name in ("modules.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        shutil.copyfile(packaged / name, out / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the RealTime QA folder (documents/*_gcs.jsonl)")
    parser.add_argument("--weeks", default=DEV_WEEKS, help=f"weeks whose articles are used (default: dev, {DEV_WEEKS})")
    parser.add_argument("--out", type=Path, default=Path("/tmp/minilm-news"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--warmup", type=float, default=0.1, help="share of the steps spent warming up")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    from assistant.embedders import PACKAGED
    from assistant.settings import default

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    model = SentenceTransformer(PACKAGED["all-MiniLM-L6-v2"](), device="cpu")

    def count(texts):
        return [len(ids) for ids in model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    weeks = [w.strip() for w in args.weeks.split(",") if w.strip()]
    pairs = title_lead_pairs(args.root, weeks, default("chunk_tokens"), count)
    print(f"{len(pairs)} title/lead pairs from weeks {', '.join(weeks)}")
    loss_fn = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    batches_per_epoch = len(pairs) // args.batch_size  # a short last batch has too few negatives: dropped
    steps = batches_per_epoch * args.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup * steps), steps)

    def features(texts):
        return {k: v for k, v in model.preprocess(list(texts)).items()}

    started = time.perf_counter()
    model.train()
    for epoch in range(args.epochs):
        random.shuffle(pairs)
        for b in range(batches_per_epoch):
            batch = pairs[b * args.batch_size:(b + 1) * args.batch_size]
            loss = loss_fn([features(t for t, _ in batch), features(lead for _, lead in batch)], None)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            if b % 5 == 0 or b == batches_per_epoch - 1:
                print(f"epoch {epoch + 1} step {b + 1}/{batches_per_epoch} loss {loss.item():.4f}", flush=True)
    elapsed = time.perf_counter() - started
    model.eval()
    model.save(str(args.out))
    legacy_configs(Path(PACKAGED["all-MiniLM-L6-v2"]()), args.out)
    print(f"trained {steps} steps on {len(pairs)} pairs in {elapsed:.1f} s (CPU); saved to {args.out}")


if __name__ == "__main__":
    main()
