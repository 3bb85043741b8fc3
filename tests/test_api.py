"""The Python API as a user calls it: `from assistant import Assistant`, `Assistant.open`, `.ask`,
`.stream`, `assistant.index`, reloading a rebuilt index, and the README's example run as written."""

import re
import shutil
import subprocess
import sys

import pytest

import assistant
from assistant import Answer, Assistant, AssistantError, Filters
from assistant.errors import ConfigError, IndexMissingError
from assistant.llms.scripted import ScriptedLLM

from conftest import ARTICLES, REPO

pytestmark = pytest.mark.slow
Q = "Which rare earth metals did China stop exporting in April 2025?"


def test_import_loads_no_model_library():
    code = ("import sys, assistant; from assistant import Assistant; "
            "print(sorted(m for m in ('torch', 'faiss', 'llama_cpp', 'sentence_transformers', 'fastapi') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert (REPO / "assistant" / "py.typed").is_file()


def test_open_ask_and_stream(built_index):
    bot = Assistant.open(built_index, llm="extractive")
    answer = bot.ask(Q, k=3)
    assert isinstance(answer, Answer) and len(answer.hits) == 3
    assert "yttrium" in answer.answer and answer.citations[0].doc_id == "000_48c4cad9349ce6bf"
    text = bot.index.documents[answer.citations[0].doc_id].text
    assert text[answer.citations[0].start:answer.citations[0].end] == answer.citations[0].quote

    pieces = list(bot.stream(Q, k=3))
    assert isinstance(pieces[-1], Answer) and all(isinstance(p, str) for p in pieces[:-1]) and len(pieces) >= 2
    assert pieces[-1].answer == answer.answer and pieces[-1].citations == answer.citations

    only = bot.ask(Q, filters={"sources": ["002_"]})
    assert only.hits and {h.chunk.doc_id for h in only.hits} == {"002_9a7edff1c49901df"}
    assert bot.ask(Q, filters=Filters(sources=("002_",))).hits == only.hits
    with pytest.raises(ConfigError, match="unknown filter 'author'"):
        bot.ask(Q, filters={"author": "x"})
    with pytest.raises(ConfigError, match="not a date"):
        list(bot.stream(Q, filters={"since": "soon"}))


def test_open_with_a_model_object_streams_its_words(built_index):
    llm = ScriptedLLM(["In April 2025, China suspended almost all exports of seven kinds of rare earth metals. [1]"])
    bot = Assistant.open(built_index, llm=llm, k=4)
    pieces = list(bot.stream(Q))
    words, answer = pieces[:-1], pieces[-1]
    assert len(words) > 5 and "".join(words).startswith("In April 2025,")
    assert answer.llm == "scripted" and len(answer.hits) == 4 and answer.citations
    assert llm.requests and llm.requests[0].question == Q


def test_history_rewrites_a_follow_up(built_index):
    bot = Assistant.open(built_index, llm="extractive")
    first = bot.ask(Q)
    follow = bot.ask("and why does that matter?", history=[(Q, first.answer)])
    assert follow.query == f"{Q} and why does that matter?"


def test_errors_are_assistant_errors_with_one_line(tmp_path):
    with pytest.raises(IndexMissingError) as e:
        Assistant.open(tmp_path / "nowhere", llm="extractive")
    assert isinstance(e.value, AssistantError) and "assistant index" in str(e.value) and "\n" not in str(e.value)


def test_index_then_reload_after_the_folder_changes(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.md").write_text("# Ostend harbour reopens\n\nThe harbour of Ostend reopened on Monday after a storm closed it for two days. "
                                   "Ferries to Dover sailed again in the afternoon. Port officials said the quays were not damaged.\n")
    report = assistant.index([folder], tmp_path / "index")
    assert report.documents == 1 and report.added == ["a"]
    bot = Assistant.open(tmp_path / "index", llm="extractive")
    before = bot.generation
    assert bot.reload_index() is False  # nothing changed

    (folder / "b.md").write_text("# Waffle prize\n\nA family bakery in Ghent won the national waffle prize at the spring fair in Brussels. "
                                   "The jury praised its light batter and crisp edges. The bakery opened in 1962 on the Korenmarkt.\n")
    report = assistant.index([folder], tmp_path / "index")
    assert report.added == ["b"] and report.unchanged == 1
    assert bot.reload_index() is True and bot.generation != before
    answer = bot.ask("Which bakery won the national waffle prize?")
    assert answer.citations and answer.citations[0].doc_id == "b" and "Ghent" in answer.answer


def test_the_readme_python_example_runs(tmp_path):
    readme = (REPO / "README.md").read_text()
    block = re.search(r"### Python\n.*?```python\n(.*?)```", readme, re.S).group(1)
    shutil.copytree(ARTICLES, tmp_path / "articles")
    out = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**__import__("os").environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "yttrium. [1]" in out.stdout
    assert "[1] US-China Trade Talks Shed Light" in out.stdout
    checked = [line for line in out.stdout.splitlines() if line.startswith("checked:")]
    assert len(checked) == 1 and "'002_9a7edff1c49901df'" in checked[0]
    assert (tmp_path / "index" / "CURRENT").is_file()
