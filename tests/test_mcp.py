"""`assistant mcp` with the official SDK's own client, over stdio and over streamable HTTP (with the
bearer key), as a desktop app or an editor would use it: the tools, their answers (`ask` is
`assistant ask --json`'s object), the documents as resources, and errors as one-line messages."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("mcp", reason="assistant mcp needs the mcp extra (scripts/setup.sh installs it)")

from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

from conftest import REPO, SERVER_KEY, stop  # noqa: E402

QUESTION = "Which rare earth metals did China stop exporting in April 2025?"


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ASSISTANT_SERVER", "ASSISTANT_API_KEY")}
    return {**env, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "ASSISTANT_LLM": "extractive"}


def payload(result) -> dict:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content.get("result", result.structured_content)
    return json.loads(result.content[0].text)


async def exercise(client, built_index) -> None:
    from assistant import Assistant

    names = {t.name for t in (await client.list_tools()).tools}
    assert {"search", "ask", "get_document"} <= names

    found = payload(await client.call_tool("search", {"query": "rare earth export controls", "k": 3}))
    passages = found["passages"]
    assert len(passages) == 3 and all(p["doc_id"] and p["title"] and "date" in p and p["end"] > p["start"] for p in passages)
    assert any(p["date"] for p in passages)
    first = passages[0]
    document = payload(await client.call_tool("get_document", {"doc_id": first["doc_id"]}))
    assert document["text"][first["start"]:first["end"]] == first["text"]

    answer = payload(await client.call_tool("ask", {"question": QUESTION}))
    local = json.loads(json.dumps(Assistant.open(built_index, llm="extractive").ask(QUESTION).to_json()))
    for key in ("answer", "refused", "citations", "claims", "llm", "strategy"):
        assert answer[key] == local[key], key  # the same checked answer as `assistant ask --json`
    assert "yttrium" in answer["answer"] and answer["citations"]
    cited = answer["citations"][0]
    text = payload(await client.call_tool("get_document", {"doc_id": cited["doc_id"]}))["text"]
    assert text[cited["start"]:cited["end"]] == cited["quote"]

    resources = (await client.list_resources()).resources
    assert len(resources) == 5 and all(str(r.uri).startswith("assistant://documents/") for r in resources)
    read = await client.read_resource(f"assistant://documents/{cited['doc_id']}")
    assert read.contents[0].text == text

    missing = await client.call_tool("get_document", {"doc_id": "no-such-document"})
    assert missing.is_error and "no document 'no-such-document'" in missing.content[0].text
    empty = await client.call_tool("ask", {"question": "   "})
    assert empty.is_error and "the question is empty" in empty.content[0].text


def test_stdio_with_the_sdk_client(built_index):
    params = StdioServerParameters(command=sys.executable, cwd=str(REPO), env=server_env(),
                                   args=["-m", "assistant", "mcp", "--index", str(built_index), "--llm", "extractive"])

    async def main():
        async with Client(params, read_timeout_seconds=120) as client:
            await exercise(client, built_index)

    asyncio.run(main())


def test_streamable_http_with_the_sdk_client_and_the_bearer_key(built_index, tmp_path):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "mcp.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "mcp", "--http", "--port", str(port), "--api-key", SERVER_KEY,
         "--index", str(built_index), "--llm", "extractive"], cwd=REPO, env=server_env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (tmp_path / "mcp.log").read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, (tmp_path / "mcp.log").read_text()
            time.sleep(0.3)

        refused = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 401

        async def main():
            headers = {"Authorization": f"Bearer {SERVER_KEY}"}
            async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    await exercise(client, built_index)

        asyncio.run(main())
    finally:
        stop(process)
        log.close()
