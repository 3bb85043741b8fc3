"""The in-process llama.cpp backend on a real (tiny) GGUF, and the packaged-model assembly check."""

import hashlib

import pytest

from assistant.errors import ModelError
from assistant.llms import Request
from assistant.model_files import smollm_gguf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm():
    from assistant.llms.local import LocalBackend

    return LocalBackend(smollm_gguf(), n_ctx=2048, n_threads=2)


def test_local_backend_streams_real_tokens(smollm):
    pieces = []
    request = Request(messages=[{"role": "user", "content": "Say hello in one short sentence."}], max_tokens=20)
    completion = smollm.generate(request, pieces.append)
    assert completion.text and "".join(pieces) == completion.text
    assert len(pieces) > 1 and completion.completion_tokens > 0 and completion.prompt_tokens > 0
    assert smollm.name == "local:SmolLM2-135M-Instruct.Q4_1"


def test_pipeline_with_the_local_backend(settings, smollm):
    from assistant.pipeline import Assistant

    answer = Assistant(settings.model_copy(update={"max_tokens": 60}), llm=smollm).ask(
        "Which rare earth metals did China stop exporting in April 2025?"
    )
    assert answer.llm.startswith("local:") and answer.hits
    assert answer.timings_ms["first_token"] <= answer.timings_ms["total"]
    # The model answered (a refusal by the gate before the model would pass every check below).
    assert answer.usage.get("completion_tokens", 0) > 0, answer
    assert all(1 <= c.n <= len(answer.hits) for c in answer.citations)


def test_local_backend_from_settings_with_a_gguf_path(settings):
    from assistant.llms import create

    llm = create(settings.model_copy(update={"llm": "local", "gguf_path": smollm_gguf(), "n_ctx": 1024}))
    assert llm.name.startswith("local:SmolLM2")
    with pytest.raises(ModelError, match="no GGUF"):
        create(settings.model_copy(update={"llm": "local", "gguf_path": settings.index_dir / "missing.gguf"}))


def test_packaged_model_is_assembled_once_and_hash_checked(tmp_path, monkeypatch):
    from assistant import model_files

    parts = []
    for i, data in enumerate([b"first part ", b"second part"]):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(data)
        parts.append(p)
    whole = b"first part second part"
    monkeypatch.setattr(model_files, "qwen_part_paths", lambda: parts)
    monkeypatch.setattr(model_files, "QWEN_SIZE", len(whole))
    monkeypatch.setattr(model_files, "QWEN_SHA256", hashlib.sha256(whole).hexdigest())
    seen = []
    path = model_files.qwen_gguf(progress=lambda done, total: seen.append(done))
    assert path.read_bytes() == whole and seen[-1] == len(whole)

    path.unlink()
    monkeypatch.setattr(model_files, "QWEN_SHA256", "0" * 64)  # a tampered part
    with pytest.raises(ModelError, match="fails its check"):
        model_files.qwen_gguf()
    assert not path.exists() and not list(path.parent.glob("*.part-*"))


def test_split_mpnet_zip_is_checked_and_only_safe_files_unpacked(tmp_path, monkeypatch):
    import io
    import zipfile

    from assistant import model_files

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("all-mpnet-base-v2/config.json", "{}")
        z.writestr("all-mpnet-base-v2/model.safetensors", b"weights")
        z.writestr("all-mpnet-base-v2/pytorch_model.bin", b"a pickle")
        z.writestr("all-mpnet-base-v2/desktop.ini", b"junk")
    data = buffer.getvalue()
    pieces = [tmp_path / "z.001", tmp_path / "z.002"]
    pieces[0].write_bytes(data[:100]); pieces[1].write_bytes(data[100:])
    monkeypatch.setattr(model_files, "mpnet_piece_paths", lambda: pieces)
    monkeypatch.setattr(model_files, "MPNET_ZIP_SHA256", "0" * 64)
    with pytest.raises(ModelError, match="sha256"):
        model_files.mpnet_model_dir()
    monkeypatch.setattr(model_files, "MPNET_ZIP_SHA256", hashlib.sha256(data).hexdigest())
    folder = model_files.mpnet_model_dir()
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]


def test_first_token_benchmark_reports_what_the_model_was_shown(settings):
    from assistant.benchmark import bench_first_token

    s = settings.model_copy(update={"llm": "local", "gguf_path": smollm_gguf(), "n_ctx": 2048, "max_tokens": 20})
    questions = ["Which rare earth metals did China stop exporting in April 2025?", "Who is Wu Xinbo?"]
    result = bench_first_token(s, questions, runs=1, log=lambda line: None)
    assert result["answers"] >= 1 and result["llm"].startswith("local:SmolLM2")
    assert 0 < result["first_token_ms_p50"] <= result["answer_ms_p50"]
    assert 50 < result["prompt_tokens_median"] < 2048


def test_answer_benchmark_splits_each_answer_and_measures_llama_cpp_on_the_same_tokens(settings):
    from assistant.benchmark import bench_answer

    s = settings.model_copy(update={"llm": "local", "gguf_path": smollm_gguf(), "n_ctx": 2048, "strategy": "select",
                                    "select_max_tokens": 24})
    questions = ["Which rare earth metals did China stop exporting in April 2025?",
                 "What share of rare earth refining does China control?"]
    result = bench_answer(s, questions, runs=1, log=lambda line: None, chat=True)
    assert result["answers"] == 2 and result["llm"].startswith("local:SmolLM2") and result["chat"]
    assert result["last_call_reused_tokens_median"] > 20  # the system message and the opening: read once
    assert 0 < result["floor_read_s_median"] <= result["floor_prompt_s_median"] < result["floor_s_median"]
    assert result["answer_s_median"] > result["prompt_s_median"] + result["generate_s_median"]
    assert result["ratio_median"] > 0 and result["ratio_same_work_median"] >= result["ratio_median"]
