"""PDF and Word files in `assistant index`: reading order across columns, running headers out,
pages kept and named by citations, bad files reported in one line each, a long PDF streamed."""

from __future__ import annotations

import subprocess
import textwrap

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.errors import UnreadableFileError
from assistant.ingest import load_documents, load_file
from assistant.readers import page_of, reflow
from assistant.settings import Settings
from assistant.store import load_index

import documents as make
from documents import paragraphs
from robustness.helpers import PYTHON, REPO, use_hash_embedder

runner = CliRunner()


def squeeze(text: str) -> str:
    return " ".join(text.split())


def test_a_two_column_pdf_reads_in_column_order_without_its_running_header(tmp_path):
    source = paragraphs(0)
    pdf = make.columns_pdf(tmp_path / "report.pdf", "China's grip on rare earths", source, columns=2)
    doc = load_file(pdf)[0]
    text = squeeze(doc.text)
    for p in source:  # every paragraph whole, in order: columns are not interleaved line by line
        assert squeeze(p) in text, p[:80]
    assert [text.index(squeeze(p)) for p in source] == sorted(text.index(squeeze(p)) for p in source)
    assert "The Harbour Review" not in doc.text  # the running header
    assert doc.title == "China's grip on rare earths" and len(doc.pages) >= 2
    second = doc.text[doc.pages[1]:doc.pages[1] + 60]
    assert page_of(doc, doc.pages[1]) == 2 and page_of(doc, doc.pages[1] - 1) == 1 and second.strip()


def test_reflow_joins_lines_and_hyphenated_words_and_keeps_paragraphs():
    lines = ["The council met on Tuesday to discuss the harbour and its sup-",
             "ply chain, which residents of the town have long called fragile.",
             "It adjourned.",
             "Next Steps",
             "A decision on the harbour, which is well-",
             "known, is expected before the end of the month, the mayor said",
             "on Wednesday in the town hall meeting, to the residents' relief."]
    text = reflow(lines, hyphenated={"well-known"})  # "well-known" is written whole elsewhere
    assert text.split("\n\n") == [
        "The council met on Tuesday to discuss the harbour and its supply chain, which residents of the town "
        "have long called fragile. It adjourned.",  # a full line gives no sign that its paragraph ends
        "Next Steps",
        "A decision on the harbour, which is well-known, is expected before the end of the month, the mayor "
        "said on Wednesday in the town hall meeting, to the residents' relief.",
    ]


def test_a_word_file_keeps_its_pages_paragraphs_and_tables(tmp_path):
    first, second = paragraphs(1)[:2], paragraphs(1)[2:4]
    doc = load_file(make.word_file(tmp_path / "brief.docx", "Harbour brief", [first, second]))[0]
    assert doc.title == "Harbour brief" and len(doc.pages) == 2
    assert doc.text.index(first[0]) < doc.pages[1] <= doc.text.index(second[0])
    assert page_of(doc, doc.text.index(second[1])) == 2
    assert "Raised by four percent from July." in doc.text  # a table cell


@pytest.mark.parametrize("kind, words", [("scanned", "no text layer"), ("encrypted", "encrypted"), ("damaged", "damaged")])
def test_a_bad_pdf_is_one_line_naming_the_file_and_the_fix(tmp_path, kind, words):
    good = make.columns_pdf(tmp_path / "good.pdf", "A title for the good one", paragraphs(2))
    bad = {"scanned": lambda p: make.scanned_pdf(p), "encrypted": lambda p: make.encrypted_pdf(good, p),
           "damaged": lambda p: make.damaged_pdf(good, p)}[kind](tmp_path / f"{kind}.pdf")
    with pytest.raises(UnreadableFileError) as caught:
        load_file(bad)
    message = str(caught.value)
    assert "\n" not in message and str(bad) in message and words in message and "--skip-bad" in message


def test_a_folder_of_pdfs_and_word_files_indexes_in_one_run_with_the_bad_ones_reported(tmp_path, monkeypatch):
    use_hash_embedder(monkeypatch)
    folder = tmp_path / "reports"
    folder.mkdir()
    make.columns_pdf(folder / "two-columns.pdf", "Rare earths and the talks", paragraphs(0))
    lines = textwrap.wrap(" ".join(paragraphs(3)), 95)
    make.long_pdf(folder / "annual.pdf", 120, lines)
    make.word_file(folder / "brief.docx", "Harbour brief", [paragraphs(1)[:2], paragraphs(1)[2:4]])
    make.scanned_pdf(folder / "scan.pdf")
    make.damaged_pdf(folder / "two-columns.pdf", folder / "torn.pdf")
    make.encrypted_pdf(folder / "two-columns.pdf", folder / "locked.pdf")
    index = ["--index", str(tmp_path / "index")]

    stopped = runner.invoke(app, ["index", str(folder), *index])
    assert stopped.exit_code == 1 and "Traceback" not in stopped.output
    assert stopped.stderr.strip().splitlines()[-1].startswith("error:")

    result = runner.invoke(app, ["index", str(folder), "--skip-bad", *index])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(warnings) == 3 and "Traceback" not in result.output
    for name, why in (("scan.pdf", "no text layer"), ("torn.pdf", "damaged"), ("locked.pdf", "encrypted")):
        assert any(name in w and why in w for w in warnings), warnings
    assert "Indexed 3 documents" in result.stdout and "skipped 3" in result.stdout
    documents = load_index(Settings(index_dir=tmp_path / "index")).documents
    assert set(documents) == {"two-columns", "annual", "brief"}
    assert len(documents["annual"].pages) == 120 and len(documents["brief"].pages) == 2


def test_an_answer_from_a_pdf_cites_its_page_and_the_document_route_gives_the_quoted_span(tmp_path):
    from fastapi.testclient import TestClient

    from assistant import Assistant, index
    from assistant.serve.app import create_app

    folder = tmp_path / "reports"
    folder.mkdir()
    fact = ("The harbour board said the lighthouse on Gull Island will be rebuilt in granite by "
            "the autumn of 2027 at a cost of 41 million crowns.")
    filler = [p for n in (0, 1) for p in paragraphs(n)]
    make.columns_pdf(folder / "board.pdf", "Harbour board minutes", filler + [fact] + paragraphs(2))
    index([folder], tmp_path / "index")
    bot = Assistant.open(tmp_path / "index", llm="extractive")
    doc = bot.index.documents["board"]
    expected = page_of(doc, doc.text.index("Gull Island"))
    assert expected >= 2

    answer = bot.ask("When will the lighthouse on Gull Island be rebuilt, and in what?")
    cited = [c for c in answer.citations if "Gull Island" in c.quote]
    assert cited and cited[0].page == expected
    assert answer.to_json()["citations"][answer.citations.index(cited[0])]["page"] == expected

    client = TestClient(create_app(bot))
    served = client.get("/api/documents/board").json()
    assert served["text"][cited[0].start:cited[0].end] == cited[0].quote
    assert served["pages"] == list(doc.pages)


STREAM = """
import resource, sys
from pathlib import Path
from assistant.ingest import Skip, load_file
try:
    load_file(Path(sys.argv[1]), max_bytes=10)  # the libraries imported, and its first page read
except Skip:
    pass
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
doc = load_file(Path(sys.argv[1]), max_bytes=int(float(sys.argv[2]) * 1e6))[0]
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(len(doc.pages), len(doc.text), grown * 1024)
"""


@pytest.mark.slow
def test_a_500_page_pdf_larger_than_the_limit_streams_page_by_page_and_its_text_is_held_to_the_limit(tmp_path):
    """The file (over 20 MB, of page images) is over --max-file-mb but is never held whole: the
    process grows by under a quarter of its size (measured: 5 MB for 32 MB; 36 MB when pypdf is
    given the path, 39 MB when pages are kept); text over the limit skips the file in one line."""
    lines = textwrap.wrap(" ".join(paragraphs(0)), 95)
    pdf = make.long_pdf(tmp_path / "scans-and-text.pdf", 500, lines, image_kb=50, lines_per_page=6)
    size = pdf.stat().st_size
    assert size > 20e6
    result = subprocess.run([PYTHON, "-c", STREAM, str(pdf), "5"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    pages, chars, grown = map(int, result.stdout.split())
    assert pages == 500 and chars > 100_000
    assert grown < size / 4, (grown, size)  # held whole, or its pages kept, it grows by more than the file

    skipped: list[str] = []
    with pytest.raises(Exception, match="no article text"):
        load_documents([pdf], max_file_mb=0.1, skipped=skipped)
    assert len(skipped) == 1 and "text is over the --max-file-mb limit" in skipped[0]


def test_pdf_and_docx_are_listed_in_the_unsupported_type_message(tmp_path):
    (tmp_path / "notes.odt").write_text("x")
    result = runner.invoke(app, ["index", str(tmp_path / "notes.odt"), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1 and ".pdf or .docx" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
