"""What an answer shows while it is made: the stages, in order, from the pipeline, the strategy and
the backend; the terminal's one-line spinner; the server's stage events (the web page's in test_web.py)."""

import io
import json

from rich.console import Console

from assistant import stages
from assistant.console import StageLine
from assistant.llms.scripted import ScriptedLLM
from assistant.pipeline import Assistant

Q = "Which rare earth metals did China stop exporting in April 2025?"


def select_reply(request):
    prompt = request.messages[-1]["content"]
    number = next(line.split(")")[0].strip("(") for line in prompt.splitlines() if "yttrium" in line)
    return json.dumps({"evidence": [int(number)], "answer": "seven rare earth metals"})


def test_an_answer_reports_its_stages_in_order(settings):
    seen: list[stages.Stage] = []
    llm = ScriptedLLM(select_reply)
    answer = Assistant(settings.model_copy(update={"strategy": "select"}), llm=llm).ask(Q, on_stage=seen.append)
    assert not answer.refused
    assert [s.name for s in seen] == ["searching", "reading", "checking"]
    shown = sum(1 for line in llm.requests[0].messages[-1]["content"].splitlines() if line.startswith("("))
    assert seen[1].counts == {"sentences": shown} and seen[1].describe() == f"reading {shown} sentences"
    assert [s.elapsed_s for s in seen] == sorted(s.elapsed_s for s in seen)


def test_a_follow_up_is_rewritten_first_and_the_rewrite_is_not_reported_as_reading(settings):
    seen: list[str] = []

    def reply(request):
        stages.progress("writing", tokens=3)  # a backend's word while rewriting: not an answer being written
        if request.schema is None:
            return "Which rare earth metals did Japan stop exporting in April 2025?"
        return select_reply(request)

    bot = Assistant(settings.model_copy(update={"strategy": "select"}), llm=ScriptedLLM(reply))
    bot.ask("and what about Japan?", history=[(Q, "Seven metals.")], on_stage=lambda s: seen.append(s.describe()))
    assert seen == ["rewriting", "searching", f"reading {seen[2].split()[1]} sentences", "writing (3 tokens)", "checking"]


def test_nothing_is_reported_without_a_listener_and_listeners_do_not_leak():
    stages.report("searching")  # no listener: nothing happens, nothing raises
    heard: list[str] = []
    with stages.listening(lambda s: heard.append(s.name)):
        stages.report("searching")
    stages.report("checking")
    assert heard == ["searching"]


def test_counts_from_the_strategy_and_the_backend_are_merged():
    heard: list[stages.Stage] = []
    with stages.listening(heard.append):
        stages.report("reading", sentences=12)
        stages.progress("reading", tokens=640)
        stages.progress("writing", tokens=1)
        stages.progress("writing", tokens=2)
    assert [s.describe() for s in heard] == [
        "reading 12 sentences", "reading 12 sentences (640 tokens)", "writing (1 tokens)", "writing (2 tokens)"]
    again = stages.Stage.from_json(json.loads(json.dumps(heard[1].to_json())))
    assert again.describe() == "reading 12 sentences (640 tokens)" and again.counts == {"sentences": 12, "tokens": 640}


def test_the_stage_line_shows_on_a_terminal_and_is_replaced():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80)
    with StageLine(console) as line:
        line(stages.Stage("reading", 1.0, {"sentences": 12}))
        console.print("")  # Live redraws its line with what it holds now
        line.stop()
        console.print("The answer.")
    shown = buffer.getvalue()
    assert "reading 12 sentences" in shown and " s" in shown
    assert shown.rstrip().endswith("The answer.")


def test_no_stage_line_when_the_console_is_not_a_terminal():
    buffer = io.StringIO()
    with StageLine(Console(file=buffer, force_terminal=False)) as line:
        line(stages.Stage("searching", 0.0))
    assert not line.enabled and buffer.getvalue() == ""


def test_ask_json_prints_only_the_answer(settings):
    from typer.testing import CliRunner

    from assistant.cli import app

    result = CliRunner().invoke(app, ["ask", Q, "--json", "--index", str(settings.index_dir), "--llm", "extractive"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["question"] == Q


def test_eval_progress_shows_the_time_left_from_the_pace_so_far():
    from assistant.evaluation.commands import ProgressBar

    now = [0.0]
    buffer = io.StringIO()
    bar = ProgressBar(console=Console(file=buffer, force_terminal=True, color_system=None, width=120), clock=lambda: now[0])
    bar(0, 10, None)
    for done in (1, 2):  # 40 s an answer, longer than rich's own 30 s window
        now[0] += 40.0
        bar(done, 10, {"id": f"q{done}", "scores": {"correct": True}})
    bar.progress.refresh()
    shown = buffer.getvalue()
    bar.stop()
    assert "2/10" in shown and "correct 2/2" in shown
    assert "left 0:05:20" in shown  # 8 answers to go at 40 s each
