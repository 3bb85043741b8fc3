"""Which PDF text extractor reads multi-column news PDFs better: pypdf or pdfplumber?

Real news articles (RealTime QA's, or the bundled ones) are set in multi-column PDFs four ways:
reportlab in two and in three columns (running header, page numbers), and LibreOffice Writer
(`soffice --headless --convert-to pdf`, when installed) from .docx files in two and three columns.
Each PDF is read by each extractor, then cleaned the same way (assistant/readers.py: running
headers out, hyphens joined, lines reflowed), and compared with the article text it was made from:

  sentences  the share of the article's sentences (8 words or more) found whole, in order of words,
             in the extracted text: a sentence broken by text from the other column is lost
  order      difflib's ratio of the two word sequences (1 = the same words in the same order)
  s/page     extraction time per page (median of the files; a shared machine: indicative only)

    python scripts/pdf_extractors.py [--articles N] [--out DIR]
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from assistant import readers  # noqa: E402
from assistant.chunking import sentence_spans  # noqa: E402
from documents import columns_pdf  # noqa: E402


def articles(n: int) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) of n long real articles."""
    root = REPO.parent / "shared" / "benchmarks" / "realtimeqa" / "documents"
    found: list[tuple[str, list[str]]] = []
    seen = set()
    for path in sorted(root.glob("*.jsonl")) if root.is_dir() else []:
        for line in path.read_text().splitlines():
            for result in json.loads(line).get("search_result", []):
                text, title = result.get("text") or "", result.get("title") or ""
                paragraphs = [p.strip() for p in text.split("\n") if len(p.split()) >= 8]
                if title in seen or sum(len(p) for p in paragraphs) < 4000:
                    continue
                seen.add(title)
                found.append((title, paragraphs))
                if len(found) == n:
                    return found
    for path in sorted((REPO / "articles").glob("*.txt"))[: n - len(found)]:
        lines = path.read_text().splitlines()
        found.append((lines[0], [p for p in lines[1:] if len(p.split()) >= 8]))
    return found


def libreoffice_pdf(folder: Path, name: str, title: str, paragraphs: list[str], columns: int) -> Path | None:
    soffice = shutil.which("soffice")
    if not soffice:
        return None
    import docx
    from docx.oxml.ns import qn
    from docx.oxml.parser import OxmlElement

    document = docx.Document()
    document.add_heading(title, level=1)
    for p in paragraphs:
        document.add_paragraph(p)
    section = document.sections[0]
    section.header.paragraphs[0].text = "The Harbour Review · June 2025"
    cols = OxmlElement("w:cols")
    cols.set(qn("w:num"), str(columns))
    cols.set(qn("w:space"), "400")
    section._sectPr.append(cols)
    source = folder / f"{name}.docx"
    document.save(str(source))
    subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(folder), str(source)],
                   check=True, capture_output=True, timeout=300)
    return folder / f"{name}.pdf"


def pypdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(path).pages]


def pypdf_layout_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text(extraction_mode="layout") or "" for page in PdfReader(path).pages]


def pdfplumber_pages(path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


EXTRACTORS = {"pypdf": pypdf_pages, "pypdf layout": pypdf_layout_pages, "pdfplumber": pdfplumber_pages}


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:['’][^\W_]+)?", text.lower())


def score(source: list[str], extracted: str) -> tuple[float, float]:
    got = " ".join(words(extracted))
    sentences = [text[s:e] for text in source for s, e in sentence_spans(text)]
    sentences = [" ".join(words(s)) for s in sentences if len(words(s)) >= 8]
    found = sum(s in got for s in sentences) / max(len(sentences), 1)
    want = [w for p in source for w in words(p)]
    order = difflib.SequenceMatcher(None, want, words(extracted), autojunk=False).ratio()
    return found, order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="keep the PDFs here")
    args = parser.parse_args()
    folder = args.out or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[tuple[str, Path, list[str]]] = []
    for i, (title, paragraphs) in enumerate(articles(args.articles)):
        for columns in (2, 3):
            cases.append((f"reportlab {columns} columns", columns_pdf(folder / f"rl{columns}-{i}.pdf", title, paragraphs,
                                                                    columns=columns), paragraphs))
            made = libreoffice_pdf(folder, f"lo{columns}-{i}", title, paragraphs, columns)
            if made:
                cases.append((f"LibreOffice {columns} columns", made, paragraphs))
    results: dict[str, dict[str, list[float]]] = {}
    for kind, path, paragraphs in cases:
        for name, extract in EXTRACTORS.items():
            started = time.perf_counter()
            raw = extract(path)
            seconds = (time.perf_counter() - started) / max(len(raw), 1)
            text = readers.paged_document(path, readers._clean_pages(raw), "", "", lambda t: t).text
            found, order = score(paragraphs, text)
            row = results.setdefault(f"{kind} | {name}", {"sentences": [], "order": [], "s_per_page": []})
            row["sentences"].append(found)
            row["order"].append(order)
            row["s_per_page"].append(seconds)
    print(f"{len(cases)} PDFs from {args.articles} articles in {folder}")
    print(f"{'PDFs | extractor':44} {'sentences':>9} {'order':>6} {'s/page':>7}")
    for key, row in results.items():
        print(f"{key:44} {statistics.mean(row['sentences']):9.3f} {statistics.mean(row['order']):6.3f} "
              f"{statistics.median(row['s_per_page']):7.3f}")
    for name in EXTRACTORS:
        rows = [r for k, r in results.items() if k.endswith(f"| {name}")]
        print(f"{'all | ' + name:44} {statistics.mean(x for r in rows for x in r['sentences']):9.3f} "
              f"{statistics.mean(x for r in rows for x in r['order']):6.3f} "
              f"{statistics.median(x for r in rows for x in r['s_per_page']):7.3f}")


if __name__ == "__main__":
    main()
