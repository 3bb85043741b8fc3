"""Prompt templates live as files in prompts/: a system part, a line '---', a user part, with
{variables} in str.format style. Their variables are checked when a template loads."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assistant.errors import ConfigError
from assistant.settings import PROMPTS_DIR

REFUSAL = "The articles do not contain the answer to this question."

OPTIONAL_VARIABLES = {"answer": {"refusal"}}
EXPECTED_VARIABLES = {
    "answer": {"passages", "question"},
    "select": {"sentences", "question"},
    "verify": {"sentences", "question", "answer", "evidence"},
    "rewrite": {"history", "question"},
    "judge": {"question", "answer", "evidence", "check"},
}


@dataclass(frozen=True)
class Template:
    name: str
    system: str
    user: str

    def messages(self, **values: str) -> list[dict]:
        # {refusal} is optional: the 1.5B local model refuses everything when offered the sentence.
        return [
            {"role": "system", "content": self.system.format(**values)},
            {"role": "user", "content": self.user.format(**values)},
        ]


def _variables(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@lru_cache(maxsize=None)
def load_template(name: str, kind: str = "answer", folder: Path = PROMPTS_DIR) -> Template:
    """`name` is a file stem in prompts/ or a path to a template file."""
    path = Path(name) if name.endswith(".txt") else folder / f"{name}.txt"
    if not path.is_file():
        choices = ", ".join(sorted(p.stem for p in folder.glob("*.txt")))
        raise ConfigError(f"no prompt template {name!r}; choose one of: {choices}, or give a .txt path")
    text = path.read_text(encoding="utf-8")
    system, sep, user = text.partition("\n---\n")
    if not sep:
        system, user = "", text
    expected = EXPECTED_VARIABLES[kind]
    try:
        found = _variables(system) | _variables(user)
    except ValueError as e:
        raise ConfigError(f"prompt {path}: {e}") from None
    if not expected <= found or not found <= expected | OPTIONAL_VARIABLES.get(kind, set()):
        raise ConfigError(
            f"prompt {path} must use exactly the variables {sorted(expected)}; it has {sorted(found)}"
        )
    return Template(name=path.stem, system=system.strip(), user=user.strip())
