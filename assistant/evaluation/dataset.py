"""Load a QA set (JSON lines, format in eval/README.md) and check every item; a bad file raises
`InputError` naming the file, the line and what is wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import InputError


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answer: str
    must_include: tuple  # of str or tuple[str, ...] (alternatives)
    sources: tuple[str, ...]
    evidence: tuple[str, ...]  # evidence[i] is a quote from sources[i]
    type: str  # any label; "unanswerable" is the one with meaning: the right answer is a refusal
    difficulty: str = ""
    split: str = ""  # dev (rules and thresholds are chosen on it) or test (reported, never tuned on)
    verdict: str = ""  # a yes/no question's right verdict, "yes" or "no"; "" for other questions

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def _strings(value, name: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
        raise InputError(f"{where}: {name!r} must be a list of non-empty strings")
    return tuple(value)


def _must_include(value, where: str) -> tuple:
    if not isinstance(value, list):
        raise InputError(f"{where}: 'must_include' must be a list")
    elements = []
    for element in value:
        if isinstance(element, str) and element.strip():
            elements.append(element)
        elif isinstance(element, list) and element and all(isinstance(x, str) and x.strip() for x in element):
            elements.append(tuple(element))  # type: ignore[arg-type]
        else:
            raise InputError(
                f"{where}: each 'must_include' element must be a non-empty string or a list of them, not {element!r}"
            )
    return tuple(elements)


def parse_item(row, where: str) -> QAItem:
    if not isinstance(row, dict):
        raise InputError(f"{where}: each line must be a JSON object")
    missing = [f for f in ("id", "question", "answer", "must_include", "sources", "evidence", "type") if f not in row]
    if missing:
        raise InputError(f"{where}: missing field(s) {', '.join(missing)}")
    for name in ("id", "question", "answer"):
        if not isinstance(row[name], str) or not row[name].strip():
            raise InputError(f"{where}: {name!r} must be a non-empty string")
    if not isinstance(row["type"], str) or not row["type"].strip():
        raise InputError(f"{where}: 'type' must be a non-empty label (fact, list, unanswerable, ...)")
    item = QAItem(
        id=row["id"], question=row["question"], answer=row["answer"],
        must_include=_must_include(row["must_include"], where),
        sources=_strings(row["sources"], "sources", where), evidence=_strings(row["evidence"], "evidence", where),
        type=row["type"].strip(), difficulty=str(row.get("difficulty") or ""), split=str(row.get("split") or ""),
        verdict=row.get("verdict") or "",
    )
    if item.verdict not in ("", "yes", "no"):
        raise InputError(f"{where}: 'verdict' must be \"yes\" or \"no\"")
    if item.verdict and not item.answerable:
        raise InputError(f"{where}: an unanswerable item has no 'verdict'")
    if len(item.evidence) != len(item.sources):
        raise InputError(f"{where}: 'evidence' needs one quote per source ({len(item.evidence)} quotes, "
                         f"{len(item.sources)} sources)")
    if item.answerable and not (item.must_include and item.sources):
        raise InputError(f"{where}: a {item.type} item needs 'must_include' and 'sources'")
    if not item.answerable and (item.must_include or item.sources):
        raise InputError(f"{where}: an unanswerable item has empty 'must_include', 'sources' and 'evidence'")
    return item


def load_dataset(path: Path, split: str | None = None) -> list[QAItem]:
    """The items of a QA file; with `split`, only those of that split (an unknown split is an error)."""
    items = _load(path)
    if not split:
        return items
    chosen = [it for it in items if it.split == split]
    if not chosen:
        splits = sorted({it.split for it in items if it.split})
        raise InputError(f"{path}: no items in split {split!r}; " + (f"its splits: {', '.join(splits)}" if splits
                         else "its items have no 'split' field"))
    return chosen


def _load(path: Path) -> list[QAItem]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such QA file")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    items: list[QAItem] = []
    seen: set[str] = set()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: not valid JSON ({e.msg})") from None
        item = parse_item(row, where)
        if item.id in seen:
            raise InputError(f"{where}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise InputError(f"{path}: no QA items")
    return items
