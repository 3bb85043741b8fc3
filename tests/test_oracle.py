"""The oracle reader (--llm oracle) through the real pipeline, on the whole QA set: what the checks
and the composing of the answer lose of answers a perfect model would give."""

from pathlib import Path

import pytest

from assistant.evaluation import oracle, runner

DATASET = Path(__file__).resolve().parents[1] / "eval" / "rare_earths_qa.jsonl"
MAX_LOST = 0.02  # issue 27: the checks lose at most 2% of what the oracle answers right


@pytest.fixture(scope="module")
def oracle_runs(built_index):
    from assistant.settings import Settings

    settings = Settings(index_dir=built_index, llm="oracle")
    return {split: runner.run_eval(DATASET, settings, split=split) for split in ("dev", "test")}


@pytest.mark.parametrize("split", ["dev", "test"])
def test_the_checks_lose_at_most_two_percent_of_what_the_oracle_answers_right(oracle_runs, split):
    items = oracle_runs[split]["items"]
    shown = [it for it in items if it["type"] != "unanswerable" and it["oracle"]["evidence_shown"]]
    lost = [it["id"] for it in shown if not it["scores"]["direct_correct"]]
    assert len(shown) >= 30  # the gate gates something
    assert len(lost) <= MAX_LOST * len(shown), f"{split}: the checks lost {lost} of {len(shown)}"
    assert all(it["miss"] in (None, *oracle.MISSES) for it in items)


def test_the_oracle_refuses_what_the_articles_do_not_hold_and_answers_from_what_it_is_shown(oracle_runs):
    items = oracle_runs["dev"]["items"]
    unanswerable = [it for it in items if it["type"] == "unanswerable"]
    assert unanswerable and all(it["prediction"]["refused"] for it in unanswerable)
    not_shown = [it for it in items if it["type"] != "unanswerable" and not it["oracle"]["evidence_shown"]]
    assert all(it["miss"] == oracle.MISSES[0] for it in not_shown if not it["scores"]["direct_correct"])


def test_the_oracle_chooses_the_sentences_holding_the_evidence_and_answers_with_the_keys():
    import json

    from assistant.llms.base import Request

    key = oracle.Key(quotes=("China suspended exports of seven rare earth metals",), keys=(("seven", "7"),), verdict="yes")
    llm = oracle.OracleLLM({"Did China suspend exports?": key})
    shown = ((1, "Talks opened in London."), (2, "In April, China suspended exports of seven rare earth metals."))
    reply = json.loads(llm.generate(Request(messages=[], question="Did China suspend exports?", passages=shown)).text)
    assert reply == {"evidence": [2], "answer": "Yes, seven"}
    assert llm.covered["Did China suspend exports?"] == (2, 2)  # the quote, and the answer in the sentences
    nothing = json.loads(llm.generate(Request(messages=[], question="Did China suspend exports?", passages=shown[:1])).text)
    assert nothing == {"evidence": [], "answer": ""}  # the evidence not shown: it chooses nothing
