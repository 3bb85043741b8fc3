import pytest

from assistant.errors import ConfigError
from assistant.prompts import REFUSAL, load_template
from assistant.settings import PROMPTS_DIR


ANSWER_VARIANTS = [p for p in sorted(PROMPTS_DIR.glob("variants/*.txt")) if not p.stem.startswith("select")]
SELECT_VARIANTS = [p for p in sorted(PROMPTS_DIR.glob("variants/*.txt")) if p.stem.startswith("select")]


@pytest.mark.parametrize("path", ANSWER_VARIANTS + [PROMPTS_DIR / "answer.txt"])
def test_every_answer_prompt_loads_and_fills(path):
    template = load_template(str(path), "answer")
    messages = template.messages(passages="[1] Some passage.", question="Q?", refusal=REFUSAL)
    assert "[1] Some passage." in messages[-1]["content"] and "Q?" in messages[-1]["content"]


@pytest.mark.parametrize("path", SELECT_VARIANTS + [PROMPTS_DIR / "select.txt"])
def test_every_select_prompt_loads_and_fills(path):
    messages = load_template(str(path), "select").messages(sentences="(1) A sentence.", question="Q?")
    assert "(1) A sentence." in messages[-1]["content"] and "Q?" in messages[-1]["content"]


def test_shipped_templates_load():
    rewrite = load_template("rewrite", "rewrite").messages(history="User: a", question="and b?")
    assert [m["role"] for m in rewrite] == ["system", "user"] and "and b?" in rewrite[-1]["content"]
    judge = load_template("judge", "judge")  # a dataclass is always truthy: check what it holds
    assert judge.system.strip() and judge.user.strip()


def test_wrong_variables_and_unknown_names_are_config_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("system\n---\n{passages} {question} {surprise}")
    with pytest.raises(ConfigError, match="surprise"):
        load_template(str(bad), "answer")
    missing = tmp_path / "missing.txt"
    missing.write_text("{passages} only")
    with pytest.raises(ConfigError, match="question"):
        load_template(str(missing), "answer")
    with pytest.raises(ConfigError, match="choose one of"):
        load_template("nope", "answer")
