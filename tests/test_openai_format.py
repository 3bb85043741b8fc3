"""OpenAI messages → (question, history), and the sources list an answer ends with."""

import pytest

from assistant.errors import ConfigError
from assistant.serve import openai_format as oai


def test_question_and_history_from_messages():
    question, history = oai.question_and_history([
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "What did China restrict?"},
        {"role": "assistant", "content": "Rare earths. [1]\n\nSources:\n[1] T (d, chars 1–2): “q”"},
        {"role": "user", "content": [{"type": "text", "text": "and "}, {"type": "text", "text": "why?"}]},
    ])
    assert question == "and why?"
    assert history == [("What did China restrict?", "Rare earths. [1]")]


@pytest.mark.parametrize("messages", [[{"role": "system", "content": "x"}], [{"role": "user", "content": "  "}],
                                      [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]])
def test_the_last_message_must_be_a_question(messages):
    with pytest.raises(ConfigError, match="user's question"):
        oai.question_and_history(messages)


def test_sources_text_and_what_follows_a_stream():
    answer = {"answer": "A. [1]", "citations": [
        {"n": 1, "doc_id": "d1", "title": "T", "start": 3, "end": 9, "quote": "q one", "supported": True},
        {"n": 2, "doc_id": "d2", "title": "", "start": 0, "end": 4, "quote": "q2", "supported": False},
    ]}
    assert oai.sources_text(answer) == "\n\nSources:\n[1] T (d1, chars 3–9): “q one”\n[2] d2 (d2, chars 0–4) (weak support): “q2”"
    assert oai.sources_text({"answer": "no", "citations": []}) == ""
    assert oai.after_stream("A. [1]", "A. [1]") == ""
    assert oai.after_stream("A. [1]", "A. [1] But B says 5. [2]") == "\n\nBut B says 5. [2]"
    assert oai.after_stream("A. [7]", "A.") == "\n\nAfter checking the citations: A."
    completion = oai.completion(answer)
    assert completion["choices"][0]["message"]["content"].startswith("A. [1]\n\nSources:\n[1] T")
    assert completion["citations"] == answer["citations"] and completion["object"] == "chat.completion"
