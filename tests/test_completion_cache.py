"""The completion cache: a deterministic request is asked once; a replay loads no model."""

import json

from assistant.llms.base import Completion, Request
from assistant.llms.cache import CachedLLM, CompletionStore, request_key
from assistant.llms.scripted import ScriptedLLM


def request(text="Which metals?", temperature=0.0):
    return Request(messages=[{"role": "user", "content": text}], max_tokens=50, temperature=temperature,
                   schema={"type": "object"}, top_logprobs=3)


def cached(path, replies, replay=False):
    made = []

    def make():
        made.append(ScriptedLLM(replies))
        return made[-1]

    return CachedLLM(make, "model sha256:abc", CompletionStore(path), name="local:test", strategy="select",
                     replay=replay), made


def test_a_request_is_asked_once_and_its_reply_kept_with_its_steps(tmp_path):
    path = tmp_path / "cache.jsonl"
    reply = Completion('{"evidence": [1]}', 10, 3, steps=(("[", {"[": -0.1, "]": -2.3456789}),))
    llm, made = cached(path, [reply])
    first, second = llm.generate(request()), llm.generate(request())
    assert len(made) == 1 and len(made[0].requests) == 1  # the second came from the cache
    assert first.text == second.text == reply.text and second.steps == (("[", {"[": -0.1, "]": -2.3457}),)
    assert (llm.hits, llm.misses) == (1, 1)
    again, made_again = cached(path, [])  # another process reading the file: no model made
    assert again.generate(request()).text == reply.text and not made_again
    assert len(path.read_text().splitlines()) == 1


def test_the_key_is_everything_the_model_is_sent_and_who_is_asked():
    assert request_key("m", request()) == request_key("m", request())
    assert request_key("m", request()) != request_key("m", request("Which minerals?"))
    assert request_key("m", request()) != request_key("other model", request())
    changed = Request(messages=request().messages, max_tokens=51, temperature=0.0, schema={"type": "object"}, top_logprobs=3)
    assert request_key("m", request()) != request_key("m", changed)


def test_sampled_requests_are_not_kept_and_a_replay_never_loads_the_model(tmp_path):
    path = tmp_path / "cache.jsonl"
    llm, made = cached(path, ["a", "b"])
    assert llm.generate(request(temperature=0.7)).text == "a" and llm.generate(request(temperature=0.7)).text == "b"
    assert not path.exists()
    replay, made_replay = cached(path, [], replay=True)
    assert replay.generate(request()).text == "" and replay.misses == 1 and not made_replay


def test_a_line_cut_short_is_asked_again(tmp_path):
    path = tmp_path / "cache.jsonl"
    llm, _ = cached(path, ["kept"])
    llm.generate(request())
    with open(path, "a") as f:
        f.write(json.dumps({"key": request_key("model sha256:abc", request("Cut?"))})[:20])
    again, made = cached(path, ["asked again"])
    assert again.generate(request("Cut?")).text == "asked again" and again.generate(request()).text == "kept"


def test_the_local_identity_is_unchanged_by_default_and_kept_apart_by_what_changes_the_tokens():
    """The committed cache's keys hold only while the default identity stays as it was written;
    drafted decodes are told apart."""
    import llama_cpp

    from assistant.llms.cache import identity
    from assistant.model_files import QWEN_SHA256
    from assistant.settings import Settings

    assert identity(Settings(), "local") == f"llama.cpp {llama_cpp.__version__} gguf sha256:{QWEN_SHA256}"
    variants = {identity(Settings(draft_tokens=4), "local"), identity(Settings(draft_tokens=8), "local"),
                identity(Settings(), "local")}
    assert len(variants) == 3
