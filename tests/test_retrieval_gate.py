"""CI's gate on retrieval: the retrieval-only eval of both QA splits over the bundled articles may not
fall more than the committed tolerance below the numbers in eval/retrieval_baseline.json, so that no
change quietly loses what an earlier one won. When a change raises them, commit the new numbers
(printed by `assistant eval eval/rare_earths_qa.jsonl --split dev --retrieval-only`, and test)."""

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QA = REPO / "eval" / "rare_earths_qa.jsonl"
BASELINE = REPO / "eval" / "retrieval_baseline.json"
GATED = ("shown_evidence_hit", "evidence_hit")  # every quote in the shown sentences; in the k passages


def test_the_baseline_gates_both_splits():
    baseline = json.loads(BASELINE.read_text())
    assert 0 < baseline["tolerance"] <= 0.05
    for split in ("dev", "test"):
        assert set(GATED) <= set(baseline["splits"][split])
        assert all(0.0 < baseline["splits"][split][m] <= 1.0 for m in GATED)


@pytest.mark.slow
@pytest.mark.parametrize("split", ["dev", "test"])
def test_retrieval_holds_the_committed_numbers(split, built_index):
    from assistant.evaluation.runner import run_eval
    from assistant.settings import Settings

    baseline = json.loads(BASELINE.read_text())
    result = run_eval(QA, Settings(index_dir=built_index), retrieval_only=True, split=split)
    overall = result["summary"]["overall"]
    assert overall["n"] == baseline["splits"][split]["items"]
    fallen = {m: (round(overall[m], 3), baseline["splits"][split][m]) for m in GATED
              if overall[m] < baseline["splits"][split][m] - baseline["tolerance"]}
    assert not fallen, f"{split} split: retrieval fell more than {baseline['tolerance']} below {BASELINE.name}: " \
                       + ", ".join(f"{m} {now} (committed {then})" for m, (now, then) in fallen.items())
