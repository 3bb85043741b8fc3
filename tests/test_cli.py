import datetime
import json
import shutil

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.store import CURRENT

from conftest import ARTICLES

pytestmark = pytest.mark.slow
runner = CliRunner()
Q = "Which rare earth metals did China stop exporting in April 2025?"


def one_line_error(result, *words):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture()
def index_dir(built_index, tmp_path):
    target = tmp_path / "index"
    shutil.copytree(built_index, target)
    return target


def test_ask_json_answers_and_cites(index_dir):
    result = runner.invoke(app, ["ask", Q, "--json", "--index", str(index_dir), "--llm", "extractive"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"question", "answer", "refused", "citations", "passages", "llm", "timings_ms"}
    assert "yttrium" in data["answer"] and data["refused"] is False and data["llm"] == "extractive"
    c = data["citations"][0]
    assert set(c) >= {"n", "doc_id", "title", "chunk_id", "start", "end", "quote"} and c["doc_id"] == "000_48c4cad9349ce6bf"
    assert set(data["passages"][0]) >= {"doc_id", "chunk_id", "start", "end", "text", "score"}
    assert data["as_of"] == datetime.date.today().isoformat()
    dated = runner.invoke(app, ["ask", Q, "--json", "--index", str(index_dir), "--llm", "extractive", "--as-of", "10 June 2025"])
    assert dated.exit_code == 0 and json.loads(dated.stdout)["as_of"] == "2025-06-10"


def test_ask_builds_the_bundled_index_when_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["ask", Q, "--llm", "extractive"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "index" / CURRENT).is_file()
    assert "yttrium" in result.stdout and "answered by extractive" in result.stdout


def test_first_token_bench_builds_the_bundled_index_when_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["bench", "first-token", "--llm", "extractive", "--runs", "1", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "index" / CURRENT).is_file()
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["llm"] == "extractive" and data["answers"] >= 1 and data["first_token_ms_p50"] > 0


def test_index_twice_embeds_nothing_the_second_time(tmp_path):
    args = ["index", str(ARTICLES), "--index", str(tmp_path / "i")]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "embedded 0 chunks" in again.stdout


def test_bad_inputs_give_one_line_and_keep_the_index(index_dir, tmp_path):
    empty = tmp_path / "empty"; empty.mkdir()
    binary = tmp_path / "blob.txt"; binary.write_bytes(b"\x00\x01binary")
    latin = tmp_path / "latin.txt"; latin.write_bytes("caf\u00e9 ".encode("latin-1") * 20)
    idx = ["--index", str(index_dir)]
    one_line_error(runner.invoke(app, ["index", str(empty), *idx]), "no article text")
    one_line_error(runner.invoke(app, ["index", str(binary), *idx]), "binary")
    one_line_error(runner.invoke(app, ["index", str(latin), *idx]), "not UTF-8")
    one_line_error(runner.invoke(app, ["ask", Q, "--llm", "nonsense", *idx]), "unknown LLM backend", "extractive")
    one_line_error(runner.invoke(app, ["ask", Q, "--as-of", "someday", *idx]), "--as-of", "YYYY-MM-DD")
    ok = runner.invoke(app, ["ask", Q, "--json", "--llm", "extractive", *idx])
    assert ok.exit_code == 0 and "yttrium" in json.loads(ok.stdout)["answer"]


def test_corrupt_index_gives_one_line(index_dir):
    gen = index_dir / (index_dir / CURRENT).read_text().strip()
    (gen / "vectors.faiss").write_bytes(b"garbage")
    one_line_error(runner.invoke(app, ["ask", Q, "--index", str(index_dir)]), "rebuild")
    (gen / "manifest.json").write_text("{")
    one_line_error(runner.invoke(app, ["info", "--index", str(index_dir)]), "rebuild")


def test_info_and_models(index_dir):
    result = runner.invoke(app, ["info", "--index", str(index_dir)])
    assert result.exit_code == 0 and "all-MiniLM-L6-v2" in result.stdout and "documents" in result.stdout
    models = runner.invoke(app, ["models"])
    assert models.exit_code == 0 and all(n in models.stdout for n in ("local", "openai", "extractive"))


def test_chat_session(index_dir):
    script = "\n".join([Q, "/sources", "and what about Japan?", "/passages", "/nonsense", "/help", "/quit"]) + "\n"
    result = runner.invoke(app, ["chat", "--index", str(index_dir), "--llm", "extractive"], input=script)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "yttrium" in out and "000_48c4cad9349ce6bf, chars" in out  # /sources shows document and offsets
    assert "Searched for:" in out  # the follow-up was searched with the conversation's context
    assert "Unknown command" in out and "/sources" in out


def test_help_is_instant_and_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("index", "ask", "chat", "info", "models", "eval"):
        assert command in result.stdout


def test_ask_shows_the_checked_answer_when_the_checks_change_it(index_dir, monkeypatch):
    from assistant.llms import registry
    from assistant.llms.scripted import ScriptedLLM

    reply = "China halted seven metals [1]. The price was $10,000 a pound [1]."
    monkeypatch.setitem(registry._registered, "scripted", (lambda s: ScriptedLLM(lambda r: reply), "test"))
    result = runner.invoke(app, ["ask", Q, "--llm", "scripted", "--index", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert "Checked against the passages, what stands is: China halted seven metals [1]." in result.stdout
    assert "Removed: sentences no shown passage holds: The price was $10,000 a pound" in result.stdout


def test_ask_adds_another_articles_different_figure_after_the_streamed_answer(index_dir, monkeypatch):
    from assistant.llms import registry
    from assistant.llms.scripted import ScriptedLLM

    def one_source(request):
        n = next(n for n, text in request.passages if "62%" in text)
        return f"China produces 62% of the world's total output [{n}]."

    monkeypatch.setitem(registry._registered, "scripted", (lambda s: ScriptedLLM(one_source), "test"))
    question = "How much of the world's rare earth mining output comes from China?"
    result = runner.invoke(app, ["ask", question, "--llm", "scripted", "--index", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert "Checked against" not in result.stdout  # the streamed answer stands; only the note is added
    assert result.stdout.split("Sentences in the answer's own words")[0].count("China produces 62%") == 1
    assert "gives a different figure" in result.stdout and "70%" in result.stdout


def test_the_cli_imports_no_heavy_library():
    import subprocess
    import sys

    heavy = ["numpy", "torch", "faiss", "llama_cpp", "openai", "sentence_transformers", "matplotlib", "pydantic_settings"]
    code = f"import sys, assistant.cli; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
