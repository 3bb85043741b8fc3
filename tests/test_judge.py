"""LLM-as-judge (`assistant eval --judge NAME`) with a scripted fake judge: verdict parsing, what the
judge is shown, the summary rates, and the CLI end to end."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.errors import ConfigError
from assistant.evaluation.judge import Judge, add_summary, make_judge, parse_verdict
from assistant.evaluation.metrics import summarise
from assistant.llms import registry
from assistant.llms.scripted import ScriptedLLM
from assistant.prompts import load_template

QA = Path(__file__).resolve().parents[1] / "eval" / "rare_earths_qa.jsonl"


def item(type_="list", answer="China stopped exporting yttrium [1].", refused=False, cite=(1,)):
    passages = [{"doc_id": "d1", "chunk_id": "d1#0", "start": 0, "end": 40, "text": "China suspended yttrium exports."},
                {"doc_id": "d2", "chunk_id": "d2#0", "start": 0, "end": 30, "text": "Talks were held in London."}]
    return {
        "id": "q", "type": type_, "question": "What did China stop exporting?", "reference": "Yttrium, among others.",
        "prediction": {"answer": answer, "refused": refused, "passages": passages,
                       "citations": [{"n": n, "doc_id": passages[n - 1]["doc_id"], "quote": "x"} for n in cite]},
        "scores": {"correct": True}, "timings_ms": {},
    }


@pytest.mark.parametrize("reply, verdict", [
    ("Yes", True), ("yes.", True), ("**No**, it does not.", False), ("  NO", False),
    ("Yes, the passages say so; no doubt.", True), ("The answer is: no", False),
    ("I cannot tell.", None), ("", None), ("Nobody knows", None), ("yesterday", None),
])
def test_parse_verdict(reply, verdict):
    assert parse_verdict(reply) is verdict


def test_the_prompt_file_loads_with_its_variables():
    template = load_template("judge", "judge")
    messages = template.messages(question="Q?", answer="A.", evidence="Reference answer:\nR.", check="Agree?")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "yes or no" in messages[0]["content"] and all(x in messages[1]["content"] for x in ("Q?", "A.", "R.", "Agree?"))


def test_judge_asks_two_questions_with_the_cited_passages_and_the_reference():
    llm = ScriptedLLM(["Yes.", "no, it misses terbium"])
    result = Judge(llm).score(item())
    assert result["scores"]["judge_supported"] is True and result["scores"]["judge_agrees"] is False
    assert result["scores"]["correct"] is True  # the string-match scores stay
    assert result["judge"] == {"supported": "Yes.", "agrees": "no, it misses terbium"}
    supported, agrees = (r.messages[1]["content"] for r in llm.requests)
    assert "[1] China suspended yttrium exports." in supported and "London" not in supported  # cited passages only
    assert "Reference answer:\nYttrium, among others." in agrees and "China suspended" not in agrees
    assert all(r.max_tokens <= 16 and r.temperature == 0 for r in llm.requests)


def test_judge_skips_what_it_cannot_judge():
    llm = ScriptedLLM([])  # any request would fail: nothing scripted
    for skipped in (item(type_="unanswerable"), item(refused=True), item(answer=None)):
        scores = Judge(llm).score(skipped)["scores"]
        assert scores["judge_supported"] is None and scores["judge_agrees"] is None
    uncited = Judge(ScriptedLLM(["Yes"])).score(item(cite=()))  # only the agreement question is asked
    assert uncited["scores"]["judge_supported"] is False and uncited["scores"]["judge_agrees"] is True
    unclear = Judge(ScriptedLLM(["maybe", "I think so"])).score(item())
    assert unclear["scores"]["judge_supported"] is None and unclear["scores"]["judge_agrees"] is None


def test_summary_rates_sit_after_accuracy_overall_and_by_type():
    llm = ScriptedLLM(["yes", "yes", "yes", "no", "no", "yes"])
    results = [Judge(llm).score(item()) for _ in range(2)] + [Judge(llm).score(item(type_="fact"))]
    results.append(Judge(llm).score(item(type_="unanswerable", refused=True)))
    summary = add_summary(summarise(results), results)
    overall = summary["overall"]
    keys = list(overall)
    assert keys[keys.index("accuracy") + 1: keys.index("accuracy") + 3] == ["judge_supported", "judge_agrees"]
    assert overall["judge_supported"] == pytest.approx(2 / 3) and overall["judge_agrees"] == pytest.approx(2 / 3)
    assert summary["by_type"]["list"]["judge_supported"] == 1.0 and summary["by_type"]["list"]["judge_agrees"] == 0.5
    assert summary["by_type"]["fact"]["judge_agrees"] == 1.0
    assert summary["by_type"]["unanswerable"]["judge_supported"] is None


def test_make_judge_refuses_extractive_and_reuses_the_answering_model():
    from assistant.settings import Settings

    settings = Settings(llm="extractive")
    with pytest.raises(ConfigError, match="extractive"):
        make_judge("extractive", settings)
    answering = ScriptedLLM([], name="local:x")
    assert make_judge("local", settings.model_copy(update={"llm": "local"}), answering).llm is answering


@pytest.mark.slow
def test_eval_cli_with_a_judge(built_index, tmp_path, monkeypatch):
    def verdicts(request):  # agrees when the reference mentions yttrium, always supported
        text = request.messages[1]["content"]
        if "Reference answer:" in text:
            return "Yes" if "yttrium" in text.split("Reference answer:")[1] else "No"
        return "Yes."

    judge = ScriptedLLM(verdicts, name="scripted:judge")
    monkeypatch.setitem(registry._registered, "scripted-judge", (lambda settings: judge, "a test judge"))
    out = tmp_path / "run.json"
    result = CliRunner().invoke(app, ["eval", str(QA), "--llm", "extractive", "--judge", "scripted-judge",
                                      "--limit", "4", "--index", str(built_index), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "judge_supported" in result.stdout and "judge_agrees" in result.stdout  # in the summary table
    run = json.loads(out.read_text())
    assert run["config"]["judge"] == "scripted:judge"
    judged = [it for it in run["items"] if it["scores"]["judge_agrees"] is not None]
    assert judged and judge.requests
    for it in judged:
        assert it["scores"]["judge_agrees"] is ("yttrium" in it["reference"]) and "judge" in it
    assert run["summary"]["overall"]["judge_agrees"] == pytest.approx(
        sum(it["scores"]["judge_agrees"] for it in judged) / len(judged))

    bad = CliRunner().invoke(app, ["eval", str(QA), "--retrieval-only", "--judge", "scripted-judge",
                                   "--index", str(built_index)])
    assert bad.exit_code == 1 and "--judge" in bad.stderr
