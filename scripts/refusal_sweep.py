"""Choose an evidence-first refusal threshold on dev runs: for each candidate value, what the saved
runs (made with the thresholds off) would score.

    python scripts/refusal_sweep.py eval/runs/qa-dev-select.json eval/runs/rtqa-dev-select.json
    python scripts/refusal_sweep.py --signal p_verified eval/runs/qa-dev-verify.json
    python scripts/refusal_sweep.py --signal best_score eval/runs/qa-dev-local.json eval/runs/rtqa-dev-local-recency.json

`p_none` (the model's probability that no sentence answers; `select_refuse_p_none`): refuse at or
above the threshold. `p_verified` (the probability it gives "yes" when asked again whether the
sentences state its answer; `verify_min_p_yes`): refuse below it. `best_score` (the best shown
sentence's score against the question; `answerable_threshold`): refuse below it. Only answers the strategy gave are
re-scored (a refused item stays refused); an item is answerable unless its type is "unanswerable"
or it says "answerable": false (RealTime QA, gold not in corpus).
"""

from __future__ import annotations

import argparse
import json

THRESHOLDS = {"p_none": (1.01, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05),
              "p_verified": (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8),
              "best_score": (0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)}


def rows(paths, signal):
    for path in paths:
        for item in json.load(open(path))["items"]:
            selection = item["prediction"].get("selection") or {}
            yield {
                "id": item["id"], "answerable": item.get("answerable", item["type"] != "unanswerable"),
                "correct": item["scores"].get("correct"), "refused": item["scores"].get("refused"),
                "p": selection.get(signal), "type": item["type"],
            }


def refuses(p, t, signal):
    if p is None:
        return False
    return p >= t if signal == "p_none" else p < t  # p_verified, best_score: refuse below


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--signal", choices=sorted(THRESHOLDS), default="p_none")
    args = parser.parse_args()
    items = list(rows(args.runs, args.signal))
    print(f"{len(items)} items; {args.signal} of each (answerable: correct?):")
    for it in sorted(items, key=lambda x: -(x["p"] or 0)):
        mark = "ANS " + ("ok " if it["correct"] else "bad") if it["answerable"] else "UNANSWERABLE"
        print(f"  {it['p'] if it['p'] is not None else float('nan'):.3f}  {it['id']:>14} {it['type']:>12} {mark}"
              f"{' (refused anyway)' if it['refused'] else ''}")
    print("\nthreshold  accuracy  answerable_correct  refusal_recall  false_refusals")
    n_u = sum(not it["answerable"] for it in items)
    n_a = len(items) - n_u
    for t in THRESHOLDS[args.signal]:
        correct = refused_u = refused_a = ans_ok = 0
        for it in items:
            refused = it["refused"] or refuses(it["p"], t, args.signal)
            if it["answerable"]:
                ok = it["correct"] and not refused
                ans_ok += ok
                refused_a += refused
            else:
                ok = refused or it["correct"]
                refused_u += refused
            correct += bool(ok)
        print(f"  {t:5.2f}    {correct / len(items):.3f}     {ans_ok}/{n_a}             "
              f"{refused_u / max(n_u, 1):.3f}           {refused_a / max(n_a, 1):.3f}")


if __name__ == "__main__":
    main()
