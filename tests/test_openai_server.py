"""The `openai` backend against a real OpenAI-compatible server (llama.cpp's, serving SmolLM2-135M on
127.0.0.1), and against tiny stdlib fake servers for what a real one will not do on demand: 404 for
an unknown model (llama.cpp's server ignores the model name), 401, 429, 5xx, a slow answer, and a
stream cut mid-answer. All network traffic stays on 127.0.0.1; every wait is bounded."""

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.errors import LLMConnectionError
from assistant.llms import Request
from assistant.llms.openai_backend import OpenAIBackend
from assistant.model_files import smollm_gguf

pytestmark = pytest.mark.slow
runner = CliRunner()
Q = "Which rare earth metals did China stop exporting in April 2025?"
HELLO = Request(messages=[{"role": "user", "content": "Say hello in one short sentence."}], max_tokens=20)
STARTUP_S = 90  # llama.cpp's server loads SmolLM2 in a few seconds; the machine may be busy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def one_line_error(result, *words):
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def check_error(error: Exception, *words):
    message = str(error)
    assert "\n" not in message and "Traceback" not in message, message
    for word in words:
        assert word in message, message


# -- the real server ------------------------------------------------------------------------------

class RealServer:
    def __init__(self, port: int, log_path):
        self.port, self.log_path = port, log_path
        self.url = f"http://127.0.0.1:{port}/v1"

    def chat_requests(self) -> int:
        """Chat completions served so far (uvicorn's access log)."""
        return self.log_path.read_text(errors="replace").count("POST /v1/chat/completions")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm_gguf()), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as response:
                    if response.status == 200 and b"smollm" in response.read():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within {STARTUP_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield RealServer(port, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture()
def index_dir(built_index, tmp_path):
    target = tmp_path / "index"
    shutil.copytree(built_index, target)
    return target


@pytest.fixture()
def small_answers(monkeypatch):
    """Short answers, the server's real window, generous timeouts, no retries."""
    monkeypatch.setenv("ASSISTANT_MAX_TOKENS", "48")
    monkeypatch.setenv("ASSISTANT_OPENAI_CONTEXT_WINDOW", "2048")
    monkeypatch.setenv("ASSISTANT_TIMEOUT_S", "120")
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", "0")


def test_backend_streams_real_tokens(llama_server):
    backend = OpenAIBackend(llama_server.url, "not-needed", "smollm", timeout=120, max_retries=0)
    pieces = []
    completion = backend.generate(HELLO, pieces.append)
    assert completion.text.strip() and "".join(pieces) == completion.text
    assert len(pieces) > 1
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0
    assert backend.name == "openai:smollm"


def test_ask_json_through_the_server(llama_server, index_dir, small_answers):
    before = llama_server.chat_requests()
    result = runner.invoke(app, ["ask", Q, "--json", "--llm", "openai", "--openai-base-url", llama_server.url,
                                 "--openai-model", "smollm", "--index", str(index_dir)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["llm"] == "openai:smollm" and data["passages"] and data["answer"]
    assert llama_server.chat_requests() > before  # the server answered, not a refusal before asking it


def test_chat_streams_through_the_server(llama_server, index_dir, small_answers):
    before = llama_server.chat_requests()
    result = runner.invoke(app, ["chat", "--llm", "openai", "--openai-base-url", llama_server.url,
                                 "--openai-model", "smollm", "--index", str(index_dir)], input=f"{Q}\n/quit\n")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "answers by openai" in flat(out) and "answered by openai:smollm" in flat(out)
    streamed = out.split("›", 1)[1].split("answered by", 1)[0]  # between the prompt and the footer
    assert streamed.strip(), out
    assert "error:" not in out
    assert llama_server.chat_requests() > before


def test_real_server_ignores_an_unknown_model_name(llama_server):
    """Why the 404 test below uses a fake server: llama.cpp's server answers whatever the name."""
    backend = OpenAIBackend(llama_server.url, "not-needed", "no-such-model", timeout=120, max_retries=0)
    assert backend.generate(Request(messages=HELLO.messages, max_tokens=4)).text


# -- fake servers ---------------------------------------------------------------------------------

def sse(content=None, finish=None, role=None) -> bytes:
    delta = {k: v for k, v in (("role", role), ("content", content)) if v is not None}
    event = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(event)}\n\n".encode()


ANSWER = ["China ", "stopped ", "exporting ", "yttrium ", "and ", "terbium ", "[1]."]
FIRST_PIECES = ["China ", "stopped "]


class FakeOpenAI:
    """An OpenAI-compatible chat server on 127.0.0.1 in a thread. Each request takes the next scripted
    behaviour; when the script is used up, requests get a proper streamed answer.

        "ok"           the answer, streamed, ending with finish_reason and [DONE]
        "cut"          chunked transfer: two chunks, then the connection closes (no final chunk)
        "cut_eof"      no length, no chunking: two chunks, then the connection closes
        (status, body) an HTTP error with an OpenAI-style error body
        ("sleep", s)   wait s seconds, then answer
    """

    def __init__(self, *script):
        self.script = list(script)
        self.requests: list[tuple[float, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append((time.monotonic(), body))
                behaviour = fake.script.pop(0) if fake.script else "ok"
                try:
                    fake.respond(self, behaviour)
                except OSError:  # the client gave up (a timeout test)
                    pass
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def respond(self, h, behaviour):
        if isinstance(behaviour, tuple) and behaviour[0] == "sleep":
            time.sleep(behaviour[1])
            behaviour = "ok"
        if isinstance(behaviour, tuple):
            status, message = behaviour
            data = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": None}}).encode()
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(data)
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        if behaviour == "ok":
            data = b"".join([sse(role="assistant"), *(sse(p) for p in ANSWER), sse(finish="stop"), b"data: [DONE]\n\n"])
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        chunks = [sse(role="assistant"), *(sse(p) for p in FIRST_PIECES)]
        if behaviour == "cut":
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            for chunk in chunks:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                h.wfile.flush()
        elif behaviour == "cut_eof":
            h.end_headers()
            for chunk in chunks:
                h.wfile.write(chunk)
                h.wfile.flush()
        else:
            raise AssertionError(f"unknown behaviour {behaviour!r}")
        # returning closes the socket: the body ends where a server that died would leave it

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def fake_backend(server, *, max_retries=0, timeout=10.0, model="fake"):
    return OpenAIBackend(server.url, "not-needed", model, timeout=timeout, max_retries=max_retries)


def test_fake_server_answers_properly():
    with FakeOpenAI() as server:
        pieces = []
        completion = fake_backend(server).generate(HELLO, pieces.append)
    assert completion.text == "".join(ANSWER) and pieces == ANSWER
    assert completion.completion_tokens > 0 and server.requests[0][1]["stream"] is True


def test_unknown_model_is_one_line_naming_url_and_model():
    with FakeOpenAI((404, "The model `gpt-nope` does not exist")) as server:
        with pytest.raises(LLMConnectionError) as caught:
            fake_backend(server, model="gpt-nope", max_retries=2).generate(HELLO)
    check_error(caught.value, server.url, "'gpt-nope'", "404", "--openai-model")
    assert len(server.requests) == 1  # a 404 is not retried


def test_bad_api_key_is_one_line():
    with FakeOpenAI((401, "Incorrect API key provided")) as server:
        with pytest.raises(LLMConnectionError) as caught:
            fake_backend(server).generate(HELLO)
    check_error(caught.value, server.url, "API key", "OPENAI_API_KEY")


def test_server_errors_are_retried_then_one_line():
    with FakeOpenAI((500, "boom"), (503, "overloaded"), (500, "still boom")) as server:
        with pytest.raises(LLMConnectionError) as caught:
            fake_backend(server, max_retries=2).generate(HELLO)
    check_error(caught.value, server.url, "HTTP 500", "after 2 retries", "still boom")
    assert len(server.requests) == 3


def test_rate_limit_is_retried_with_backoff_then_succeeds():
    with FakeOpenAI((429, "Rate limit reached"), "ok") as server:
        pieces = []
        completion = fake_backend(server, max_retries=1).generate(HELLO, pieces.append)
    assert completion.text == "".join(ANSWER) and pieces == ANSWER
    (first, _), (second, _) = server.requests
    assert second - first >= 0.3  # the client's backoff (0.5 s less up to 25 % jitter), not an instant retry


def test_a_slow_server_times_out_in_one_line():
    with FakeOpenAI(("sleep", 3)) as server:
        started = time.monotonic()
        with pytest.raises(LLMConnectionError) as caught:
            fake_backend(server, timeout=0.5).generate(HELLO)
        assert time.monotonic() - started < 2.5
    check_error(caught.value, server.url, "did not answer within 0.5 s")


def test_server_down_is_fast_and_one_line():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(LLMConnectionError) as caught:
        OpenAIBackend(url, "not-needed", "smollm", timeout=5, max_retries=0).generate(HELLO)
    assert time.monotonic() - started < 3
    check_error(caught.value, url, "cannot reach")


def test_server_down_through_ask(index_dir, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", "0")
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = runner.invoke(app, ["ask", Q, "--llm", "openai", "--openai-base-url", url, "--openai-model", "smollm",
                                 "--index", str(index_dir)])
    one_line_error(result, url, "cannot reach")


@pytest.mark.parametrize("cut", ["cut", "cut_eof"])
def test_stream_cut_mid_answer_is_one_line(cut):
    with FakeOpenAI(cut) as server:
        pieces = []
        with pytest.raises(LLMConnectionError) as caught:
            fake_backend(server, max_retries=2).generate(HELLO, pieces.append)
    assert pieces == FIRST_PIECES  # what arrived was streamed before the error
    check_error(caught.value, server.url, "stopped mid-answer")
    assert len(server.requests) == 1  # an answer half shown is not silently restarted


def test_chat_survives_a_server_unplugged_mid_answer(index_dir, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", "0")
    monkeypatch.setenv("ASSISTANT_TIMEOUT_S", "10")
    with FakeOpenAI("cut", "ok") as server:
        result = runner.invoke(app, ["chat", "--llm", "openai", "--openai-base-url", server.url, "--strategy", "free",
                                     "--openai-model", "fake", "--index", str(index_dir)],  # the streamed path
                               input=f"{Q}\n{Q}\n/quit\n")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    first, _, second = out.partition("stopped mid-answer")
    assert "error:" in first and server.url in first + second[:200]  # the first answer: one error line
    assert "yttrium" in second and "answered by openai:fake" in second  # the session went on and answered
    assert len(server.requests) == 2
