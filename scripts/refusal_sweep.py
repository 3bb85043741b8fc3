"""Choose the evidence-first refusal threshold on dev runs: for each candidate value of
`select_refuse_p_none`, what the saved runs (made with the threshold off, 1.01) would score.

    python scripts/refusal_sweep.py eval/runs/qa-dev-select.json eval/runs/rtqa-dev-select.json

Only answers the strategy gave are re-scored (a refused item stays refused); an item is answerable
unless its type is "unanswerable" or it says "answerable": false (RealTime QA, gold not in corpus).
"""

from __future__ import annotations

import json
import sys


def rows(paths):
    for path in paths:
        for item in json.load(open(path))["items"]:
            selection = item["prediction"].get("selection") or {}
            yield {
                "id": item["id"], "answerable": item.get("answerable", item["type"] != "unanswerable"),
                "correct": item["scores"].get("correct"), "refused": item["scores"].get("refused"),
                "p_none": selection.get("p_none"), "type": item["type"],
            }


def main(paths):
    items = list(rows(paths))
    print(f"{len(items)} items; p_none of each (answerable: correct?):")
    for it in sorted(items, key=lambda x: -(x["p_none"] or 0)):
        mark = "ANS " + ("ok " if it["correct"] else "bad") if it["answerable"] else "UNANSWERABLE"
        print(f"  {it['p_none'] if it['p_none'] is not None else float('nan'):.3f}  {it['id']:>14} {mark}"
              f"{' (refused anyway)' if it['refused'] else ''}")
    print("\nthreshold  accuracy  answerable_correct  refusal_recall  false_refusals")
    for t in (1.01, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05):
        correct = refused_u = refused_a = 0
        n_u = sum(not it["answerable"] for it in items)
        n_a = len(items) - n_u
        ans_ok = 0
        for it in items:
            refused = it["refused"] or (it["p_none"] is not None and it["p_none"] >= t)
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
    main(sys.argv[1:])
