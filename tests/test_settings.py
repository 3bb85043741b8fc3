from assistant.settings import Settings


def test_precedence_defaults_file_env_flags(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings().k == 5
    (tmp_path / "assistant.toml").write_text("k = 7\nretrieval = \"bm25\"\n")
    assert Settings().k == 7 and Settings().retrieval == "bm25"
    monkeypatch.setenv("ASSISTANT_K", "9")
    assert Settings().k == 9
    assert Settings(k=3).k == 3


def test_fingerprints_follow_what_they_cover():
    base = Settings()
    assert Settings(k=8).index_fingerprint() == base.index_fingerprint()
    assert Settings(k=8).fingerprint() != base.fingerprint()
    assert Settings(chunk_tokens=96).index_fingerprint() != base.index_fingerprint()
    assert Settings(openai_api_key="secret").fingerprint() == base.fingerprint()
