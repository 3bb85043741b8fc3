import json

import pytest

from assistant.errors import EmptyCorpusError, InputError, UnreadableFileError
from assistant.ingest import load_documents

PROSE = "The committee met on Tuesday and agreed a new budget for the coming year. " * 3


def test_txt_md_html_jsonl(tmp_path):
    (tmp_path / "a.txt").write_text(PROSE)
    (tmp_path / "b.md").write_text("# Heading\n\n" + PROSE.replace("committee", "council"))
    (tmp_path / "c.html").write_text(
        "<html><head><title>Port news</title></head><body><nav><a href='/'>Home</a> <a>Sport</a></nav>"
        "<article><h1>Port news</h1><p>" + PROSE.replace("committee", "harbour board") + "</p></article>"
        "<footer>Cookie settings. Contact us.</footer></body></html>"
    )
    rows = [{"id": "j1", "title": "T1", "url": "https://www.example.com/x", "date": "2023-01-05", "text": PROSE.replace("committee", "jury")}]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    docs = {d.id: d for d in load_documents([tmp_path])}
    assert set(docs) == {"a", "b", "c", "j1"}
    assert "harbour board" in docs["c"].text and "Cookie" not in docs["c"].text
    assert docs["j1"].source == "example.com" and docs["j1"].date == "2023-01-05" and docs["j1"].title == "T1"


def test_duplicate_content_is_indexed_once(tmp_path):
    (tmp_path / "a.txt").write_text(PROSE)
    (tmp_path / "copy.txt").write_text(PROSE)
    warnings = []
    docs = load_documents([tmp_path], warn=warnings.append)
    assert len(docs) == 1 and "same content" in warnings[0]


@pytest.mark.parametrize(
    "name, data, error, words",
    [
        ("bin.txt", b"\x00\x01\x02binary\x00", UnreadableFileError, "binary"),
        ("latin.txt", "Caf\u00e9 au lait ".encode("latin-1") * 5, UnreadableFileError, "not UTF-8"),
        ("bad.jsonl", b'{"text": "ok"}\n{not json\n', UnreadableFileError, "bad.jsonl:2"),
        ("image.png", b"\x89PNG", UnreadableFileError, "unsupported"),
    ],
)
def test_bad_files_name_the_file(tmp_path, name, data, error, words):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(error) as info:
        load_documents([path])
    assert words in str(info.value) and name in str(info.value) and "\n" not in str(info.value)


def test_skip_bad_goes_on(tmp_path):
    (tmp_path / "good.txt").write_text(PROSE)
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00\x00")
    skipped = []
    assert [d.id for d in load_documents([tmp_path], skip_bad=True, warn=skipped.append)] == ["good"]
    assert "bad.txt" in skipped[0]


def test_empty_folder_and_missing_path(tmp_path):
    with pytest.raises(EmptyCorpusError):
        load_documents([tmp_path])
    with pytest.raises(InputError, match="no such file"):
        load_documents([tmp_path / "nope"])
