"""Fuzzing (issue 12, item 6): the cleaner, the chunker, the citation parser and the answer checks
hold their contracts for any input; any model output, however malformed, gives an Answer."""

from __future__ import annotations

import math
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from assistant.chunking import chunk_document
from assistant.answer.citations import resolve
from assistant.clean import clean_page_text
from assistant.answer.grounding import check
from assistant.ingest import sanitize
from assistant.prompts import REFUSAL
from assistant.types import Answer, Chunk, Document, Hit

ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)
LINES = st.lists(st.one_of(
    ANY_TEXT,
    st.sampled_from([
        "", "Share", "You might also like", "Title: Something", "The council met on Tuesday to discuss the budget.",
        "© 2025 All rights reserved", "- a bullet item with several words in it", "March 3, 2025", "\u200b\u202e",
        "Residents asked questions about the harbour for more than two hours on Monday.", "\t\r", "1. One two three four.",
    ]),
), max_size=25).map("\n".join)
MODEL_OUTPUT = st.lists(st.one_of(
    ANY_TEXT,
    st.sampled_from([
        "[1]", "[2]", "[0]", "[-1]", "[99]", "[999999999999]", "[1-100000000]", "[3-1]", "[1, 2, 3]", "[1,,2]",
        "[passage 2]", "[Passages 1 and 3]", "[]", "[[1]]", "【1】", "(1)", "[1]." * 3, REFUSAL, "\n\n", " ",
        "China suspended exports of seven rare earth metals.", "About 70% of output", "Title: ", "**Answer:**",
        "I don't know.", "The passages do not say.", "$10,000", "April 4, 2025", "Yttrium", "\x00", "\u200b",
    ]),
), max_size=30).map("".join)

PASSAGES = [
    "In April 2025, China suspended exports of seven rare earth metals, including yttrium and dysprosium.",
    "China produces about 70% of the world's rare earth mining output and refines about 90% of it.",
    "Japan has built stockpiles since 2010. Prices rose sharply in May.",
]


def _hits() -> list[Hit]:
    return [Hit(chunk=Chunk(id=f"d{n}#0", doc_id=f"d{n}", start=0, end=len(t), text=t), score=1.0 / n, rank=n,
                title=f"Article {n}", date="2025-04-0{n}") for n, t in enumerate(PASSAGES, 1)]


@hsettings(max_examples=300, deadline=None)
@given(LINES)
def test_the_cleaner_only_removes_and_leaves_no_invisible_characters(raw):
    text = sanitize(raw)
    assert not [c for c in text if c not in "\n\t\r" and unicodedata.category(c) in ("Cc", "Cf", "Cs")]
    assert not re.search(r"\[\s*\d+\s*\]", text), "a citation-like marker survived"
    cleaned = clean_page_text(text)
    assert isinstance(cleaned.title, str) and isinstance(cleaned.date, str)
    flat = re.sub(r"[ \t\u00a0]+", " ", text)
    for paragraph in filter(None, cleaned.text.split("\n\n")):
        assert paragraph in flat, paragraph  # kept lines are the page's own (maybe with a doubled caption halved)
    assert clean_page_text(cleaned.text).text == cleaned.text or len(clean_page_text(cleaned.text).text) <= len(cleaned.text)


def _chars_as_tokens(texts):
    """A tokenizer-like count: about four characters a token, so a long word (a URL, Chinese
    without spaces) is many tokens, as it is to the real tokenizer."""
    return [math.ceil(len(t) / 4) for t in texts]


WORDS = st.one_of(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Zs", "Cc"]), min_size=1, max_size=90),
                  st.sampled_from(["The", "council", "met.", "U.S.", "Dr.", "end!", "“Quoted.”", "\n\n", "中国暂停了七种稀土金属的出口" * 5]))
SENTENCES = st.lists(WORDS, min_size=1, max_size=40).map(" ".join)


@hsettings(max_examples=300, deadline=None)
@given(st.lists(SENTENCES, min_size=1, max_size=12).map(". ".join), st.integers(8, 40), st.integers(0, 10))
def test_chunks_map_back_exactly_cover_the_text_and_stay_under_the_token_limit(text, max_tokens, overlap):
    chunks = chunk_document(Document(id="d", text=text), _chars_as_tokens, max_tokens, min(overlap, max_tokens // 2))
    covered = set()
    for i, c in enumerate(chunks):
        assert c.id == f"d#{i}" and c.doc_id == "d"
        assert text[c.start:c.end] == c.text and c.text.strip() == c.text and c.text
        assert _chars_as_tokens([c.text])[0] <= max_tokens, (len(c.text), max_tokens)
        covered.update(range(c.start, c.end))
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
    assert not missing, missing[:5]
    for a, b in zip(chunks, chunks[1:]):
        assert a.start < b.start, "chunking moves forward"


@hsettings(max_examples=500, deadline=None)
@given(MODEL_OUTPUT)
def test_the_citation_parser_takes_any_model_output(output):
    hits = _hits()
    text, cites, dropped, recited = resolve(output, hits)
    assert isinstance(text, str)
    for c in cites:
        assert 1 <= c.n <= len(hits) and c.doc_id == f"d{c.n}" or any(c.doc_id == h.chunk.doc_id for h in hits)
        source = next(h for h in hits if h.chunk.doc_id == c.doc_id)
        assert source.chunk.text[c.start:c.end] == c.quote
    assert all(isinstance(n, int) for n in dropped)


@hsettings(max_examples=500, deadline=None)
@given(MODEL_OUTPUT, st.sampled_from(["Which metals did China stop exporting?", "How much?", "When?", "Who?", "", "?"]))
def test_the_answer_checks_take_any_model_output(output, question):
    checked = check(output, _hits(), question)
    assert isinstance(checked.text, str) and all(isinstance(r, str) for r in checked.removed)


@pytest.mark.slow
@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(output=MODEL_OUTPUT)
def test_the_pipeline_gives_an_answer_for_whatever_the_model_says(settings, output):
    from assistant.llms.scripted import ScriptedLLM

    assistant = _assistant(settings)
    assistant.llm = ScriptedLLM(lambda request: output)
    answer = assistant.ask("Which rare earth metals did China stop exporting in April 2025?")
    assert isinstance(answer, Answer) and isinstance(answer.answer, str)
    assert answer.answer.strip() or answer.refused  # (an empty refusal, e.g. for "[0]": the answer side's to word)
    assert all(1 <= c.n <= len(answer.hits) for c in answer.citations)


_cached: dict = {}


def _assistant(settings):
    from assistant.pipeline import Assistant

    key = str(settings.index_dir)
    if key not in _cached:
        _cached[key] = Assistant(settings)
    return _cached[key]
