"""The OpenAI chat-completions format: messages in, (question, history) out; an Answer out as a
completion or as stream chunks. The answer text keeps its [n] markers; the citations travel in an
extra `citations` field (and the whole Answer in `answer`), and as a sources list ending the text."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from assistant.errors import ConfigError

MODEL_ID = "assistant"
SOURCES_HEAD = "\n\nSources:\n"


def content_text(content) -> str:
    """A message's content: a string, or OpenAI content parts [{"type": "text", "text": ...}]."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


def question_and_history(messages: Sequence[dict]) -> tuple[str, list[tuple[str, str]]]:
    """The last user message is the question; earlier user → assistant pairs are the history
    (our own sources lists cut off). System messages are ignored: the assistant has its own prompt."""
    turns = [(m.get("role"), content_text(m.get("content"))) for m in messages if m.get("role") in ("user", "assistant")]
    if not turns or turns[-1][0] != "user" or not turns[-1][1].strip():
        raise ConfigError("the last message must be the user's question")
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for role, text in turns[:-1]:
        if role == "user":
            pending = text
        elif pending is not None:
            history.append((pending, text.split(SOURCES_HEAD, 1)[0]))
            pending = None
    return turns[-1][1].strip(), history


def sources_text(answer: dict) -> str:
    """'\\n\\nSources:\\n[1] Title (doc id, chars a–b): “quote”' for each citation ('doc id,
    page p, chars a–b' for a PDF or Word file); '' without any."""
    lines = []
    for c in answer.get("citations", []):
        weak = " (weak support)" if not c.get("supported", True) else ""
        page = f"page {c['page']}, " if c.get("page") else ""
        lines.append(f"[{c['n']}] {c.get('title') or c['doc_id']} ({c['doc_id']}, {page}chars {c['start']}–{c['end']}){weak}: “{c['quote']}”")
    return SOURCES_HEAD + "\n".join(lines) if lines else ""


def after_stream(streamed: str, final: str) -> str:
    """What to send after the model's streamed text so the reader ends with the checked answer
    (as the terminal does): nothing, the part the checks added, or the answer that stands."""
    said, final = streamed.strip(), final.strip()
    if final == said:
        return ""
    if said and final.startswith(said):
        return "\n\n" + final[len(said):].strip()
    return f"\n\nAfter checking the citations: {final}"


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def extras(answer: dict) -> dict:
    return {"citations": answer.get("citations", []), "answer": answer}


def usage(answer: dict) -> dict:
    u = answer.get("usage") or {}
    prompt, completion = int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion(answer: dict, model: str = MODEL_ID) -> dict:
    return {
        "id": new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer["answer"] + sources_text(answer)},
            "finish_reason": "stop",
            "logprobs": None,
        }],
        "usage": usage(answer),
        **extras(answer),
    }


def chunk(id_: str, created: int, model: str, delta: dict, finish: str | None = None, **extra) -> dict:
    return {
        "id": id_,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }


def models(llm_name: str) -> dict:
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "assistant", "description": f"answers by {llm_name}"}],
    }
