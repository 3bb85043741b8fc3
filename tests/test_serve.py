"""`assistant serve` as a real uvicorn process on 127.0.0.1 (the `server` fixture, extractive backend,
bearer key): the official openai client, streaming and not; /api/ask against `ask --json`; 20
concurrent questions; the body limit, the key; ask/chat through ASSISTANT_SERVER."""

import json
import threading
import urllib.error
import urllib.request

import openai
import pytest
from typer.testing import CliRunner

from assistant.cli import app
from conftest import SERVER_KEY

pytestmark = pytest.mark.slow
runner = CliRunner()
Q = "Which rare earth metals did China stop exporting in April 2025?"
QUESTIONS = [
    Q,
    "How long did China's suspension of rare earth exports last?",
    "Where were the US-China trade talks held in June 2025?",
    "What share of the world's rare earth processing does China control?",
    "Which US companies were affected by the rare earth shortages?",
]


def http(url: str, body=None, key: str | None = SERVER_KEY, raw: bytes | None = None, method=None):
    """(status, parsed JSON body)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def documents(server) -> dict:
    cache = {}

    def get(doc_id):
        if doc_id not in cache:
            status, cache[doc_id] = http(f"{server}/api/documents/{doc_id}")
            assert status == 200, cache[doc_id]
        return cache[doc_id]

    return get


def assert_citations_hold(answer: dict, doc) -> None:
    """Every citation's quote is its document's cleaned text at its offsets, and its [n] is in the answer."""
    assert answer["citations"], answer
    for c in answer["citations"]:
        assert doc(c["doc_id"])["text"][c["start"]:c["end"]] == c["quote"], c
        assert f"[{c['n']}]" in answer["answer"], (c["n"], answer["answer"])


def without_timings(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server}/v1", api_key=SERVER_KEY, max_retries=0, timeout=120)


def test_openai_client_models_and_completion(server, client):
    assert [m.id for m in client.models.list()] == ["assistant"]
    response = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": Q}])
    text = response.choices[0].message.content
    answer = response.model_extra["answer"]
    citations = response.model_extra["citations"]
    assert "yttrium" in text and "[1]" in text
    assert text == answer["answer"] + "\n\nSources:\n" + "\n".join(
        f"[{c['n']}] {c['title']} ({c['doc_id']}, chars {c['start']}–{c['end']}): “{c['quote']}”" for c in citations)
    assert citations == answer["citations"] and citations[0]["doc_id"] == "000_48c4cad9349ce6bf"
    assert set(citations[0]) >= {"doc_id", "title", "start", "end", "quote", "supported"}
    assert_citations_hold(answer, documents(server))
    assert response.choices[0].finish_reason == "stop" and response.model == "assistant"


def test_openai_client_streams_the_same_answer(client):
    plain = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": Q}])
    stream = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": Q}],
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finals) == 1 and finals[0].model_extra["citations"] == plain.model_extra["citations"]
    assert text == plain.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage is not None and not chunks[-1].choices


def test_openai_follow_up_uses_the_history(client):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": Q},
        {"role": "assistant", "content": "Dysprosium and others. [1]\n\nSources:\n[1] ..."},
        {"role": "user", "content": "and why does that matter?"},
    ]
    response = client.chat.completions.create(model="assistant", messages=messages)
    answer = response.model_extra["answer"]
    assert answer["question"] == "and why does that matter?"
    assert answer["query"] == f"{Q} and why does that matter?"  # extractive: the follow-up joined to the question


def test_wrong_or_missing_key_is_401(server):
    bad = openai.OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="assistant", messages=[{"role": "user", "content": Q}])
    assert e.value.status_code == 401
    assert http(f"{server}/api/ask", {"question": Q}, key=None)[0] == 401
    status, body = http(f"{server}/api/ask", {"question": Q}, key="wrong")
    assert status == 401 and "API key" in body["error"]["message"]
    assert http(f"{server}/healthz", key=None)[0] == 200  # the page and health need no key


def test_one_megabyte_body_is_413(server):
    body = json.dumps({"question": "x" * (1 << 20)}).encode()
    status, error = http(f"{server}/api/ask", raw=body)
    assert status == 413 and "limit" in error["error"]["message"]
    status, _ = http(f"{server}/v1/chat/completions", raw=b"{" + b" " * (1 << 20) + b"}")
    assert status == 413
    assert http(f"{server}/healthz")[0] == 200  # and the server is fine after


def test_bad_requests_are_400_with_a_message(server):
    status, body = http(f"{server}/api/ask", {"question": Q, "since": "not a date"})
    assert status == 400 and "not a date" in body["error"]["message"]
    status, body = http(f"{server}/api/ask", {"question": ""})
    assert status == 400 and "question" in body["error"]["message"]
    status, body = http(f"{server}/v1/chat/completions", {"model": "assistant", "messages": [{"role": "system", "content": "hi"}]})
    assert status == 400 and "user" in body["error"]["message"]
    status, body = http(f"{server}/api/documents/no-such-document")
    assert status == 404 and "no-such-document" in body["error"]["message"]


def test_api_ask_is_ask_json(server, built_index, monkeypatch):
    status, served = http(f"{server}/api/ask", {"question": Q})
    assert status == 200
    monkeypatch.delenv("ASSISTANT_SERVER", raising=False)
    result = runner.invoke(app, ["ask", Q, "--json", "--index", str(built_index), "--llm", "extractive"])
    assert result.exit_code == 0, result.output
    assert without_timings(served) == without_timings(json.loads(result.stdout))
    assert set(served["timings_ms"]) >= {"retrieval", "total"}


def sse_events(url: str, body: dict) -> list[dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {SERVER_KEY}"})
    with urllib.request.urlopen(request, timeout=120) as r:
        text = r.read().decode()
    return [json.loads(block[6:]) for block in text.split("\n\n") if block.startswith("data: {")]


def test_api_stream_tells_the_stages_before_the_answer_and_the_openai_stream_does_not(server):
    events = sse_events(f"{server}/api/stream", {"question": Q})
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "answer" and "stage" in kinds
    stage_events = [e for e in events if e["type"] == "stage"]
    assert kinds.index("answer") > max(i for i, k in enumerate(kinds) if k == "stage")
    names = [e["stage"] for e in stage_events]
    assert names[0] == "searching" and names[-1] == "checking", names
    assert [e["elapsed_ms"] for e in stage_events] == sorted(e["elapsed_ms"] for e in stage_events)
    assert all(e["text"] for e in stage_events)
    chunks = sse_events(f"{server}/v1/chat/completions", {"model": "assistant", "stream": True,
                                                         "messages": [{"role": "user", "content": Q}]})
    assert chunks and all(c.get("object") == "chat.completion.chunk" for c in chunks)


def test_twenty_concurrent_questions_all_answered_with_their_own_citations(server):
    doc = documents(server)
    expected = {}
    for q in QUESTIONS:  # one at a time first: what each answer must be
        status, answer = http(f"{server}/api/ask", {"question": q})
        assert status == 200, answer
        expected[q] = without_timings(answer)
    results: list = [None] * 20
    start = threading.Barrier(20)

    def ask(i: int) -> None:
        start.wait()
        results[i] = http(f"{server}/api/ask", {"question": QUESTIONS[i % len(QUESTIONS)]})

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for i, (status, answer) in enumerate(results):
        q = QUESTIONS[i % len(QUESTIONS)]
        assert status == 200, answer
        assert without_timings(answer) == expected[q]  # no answer mixed up with another's
        if not answer["refused"]:
            assert_citations_hold(answer, doc)
    assert sum(not a["refused"] for _, a in results) >= 16


def test_health_documents_and_reload(server, built_index):
    status, health = http(f"{server}/healthz")
    assert status == 200 and health["documents"] == 5 and health["passages"] > 100 and health["llm"] == "extractive"
    assert health["index"] == str(built_index.resolve()) and "index" not in http(f"{server}/healthz", key=None)[1]
    status, doc = http(f"{server}/api/documents/002_9a7edff1c49901df")
    assert status == 200 and doc["date"] == "2025-06-10" and doc["title"].startswith("How rare earth minerals")
    assert "rare earth" in doc["text"] and set(doc) >= {"id", "title", "date", "url", "text"}
    status, reloaded = http(f"{server}/api/reload", {})
    assert status == 200 and reloaded["reloaded"] is False and reloaded["generation"] == health["generation"]


def test_web_page_and_assets_are_served(server):
    with urllib.request.urlopen(server + "/") as r:
        page = r.read().decode()
    assert '<textarea id="question"' in page and "/static/app.js" in page
    for asset in ("app.js", "style.css"):
        with urllib.request.urlopen(f"{server}/static/{asset}") as r:
            assert r.status == 200 and len(r.read()) > 1000


def test_ask_uses_the_server_named_by_assistant_server(server, built_index, monkeypatch):
    monkeypatch.setenv("ASSISTANT_SERVER", server)
    monkeypatch.setenv("ASSISTANT_API_KEY", SERVER_KEY)
    answered = http(f"{server}/healthz")[1]["answered"]
    result = runner.invoke(app, ["ask", Q, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "yttrium" in data["answer"] and data["citations"][0]["doc_id"] == "000_48c4cad9349ce6bf"
    result = runner.invoke(app, ["ask", Q])  # streamed, rendered as in-process
    assert result.exit_code == 0, result.output
    assert "yttrium" in result.stdout and "000_48c4cad9349ce6bf" in result.stdout and "answered by extractive" in result.stdout
    assert http(f"{server}/healthz")[1]["answered"] == answered + 2  # both went to the server


def test_chat_through_the_server_keeps_the_conversation(server, monkeypatch):
    monkeypatch.setenv("ASSISTANT_SERVER", server)
    monkeypatch.setenv("ASSISTANT_API_KEY", SERVER_KEY)
    result = runner.invoke(app, ["chat"], input=f"{Q}\n/sources\nand why does that matter?\n/passages\n/quit\n")
    assert result.exit_code == 0, result.output
    shown = " ".join(result.stdout.split())  # rich's line wrapping undone
    assert f"answers by extractive at {server}" in shown and "yttrium" in shown
    assert "000_48c4cad9349ce6bf, chars" in shown  # /sources from the server's answer
    assert f"Searched for: {Q} and why does that matter?" in shown  # the history went to the server


def test_ask_falls_back_in_process_when_no_server_answers(built_index, monkeypatch):
    monkeypatch.setenv("ASSISTANT_SERVER", "http://127.0.0.1:9")  # nothing listens on the discard port
    result = runner.invoke(app, ["ask", Q, "--json", "--index", str(built_index)])  # ASSISTANT_LLM=extractive
    assert result.exit_code == 0, result.output
    assert "yttrium" in json.loads(result.stdout)["answer"]
    assert "no assistant server answers at http://127.0.0.1:9: answering in-process" in " ".join(result.stderr.split())


def test_ask_with_a_wrong_key_for_the_server_is_one_line_error(server, monkeypatch):
    monkeypatch.setenv("ASSISTANT_SERVER", server)
    monkeypatch.setenv("ASSISTANT_API_KEY", "wrong")
    result = runner.invoke(app, ["ask", Q])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "API key" in lines[0], result.stderr


def test_serve_on_a_busy_port_is_one_line_error(built_index):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--index", str(built_index), "--port", str(port)])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0] and "--port" in lines[0], result.stderr
