"""PDF and Word files → one `Document` each, with the offset where each page starts.

A PDF is read page by page from the open file (pypdf parses objects as they are asked for, so
the file is never held whole: a 500-page report streams), and its text is kept within
--max-file-mb, as a .jsonl line is. Each page's lines are put back together: running headers
and footers (the same line at the top or bottom of most pages, and bare page numbers) dropped,
words hyphenated at a line end joined, lines rejoined into paragraphs. pypdf was chosen over
pdfplumber by measurement on multi-column PDFs (scripts/pdf_extractors.py, docs/inputs.md).

A .docx is read with python-docx: paragraphs and table cells in document order; page breaks,
where the file records them (hard breaks, and the breaks Word records when it lays a file out),
start pages.

A PDF with no text layer (scanned), one that needs a password, and a damaged one raise
`UnreadableFileError` with one line: the run stops, or with --skip-bad skips the file.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path

from assistant.clean import find_date
from assistant.errors import UnreadableFileError, require
from assistant.types import Document

PDF_SUFFIXES = {".pdf"}
DOCX_SUFFIXES = {".docx"}
MIN_TEXT_CHARS = 20  # a PDF whose pages hold fewer letters than this in all is taken for a scan

Sanitize = Callable[[str], str]


class TooLarge(Exception):
    """The text extracted so far is over the limit (the caller skips the file with its own words)."""


def page_of(doc: Document, offset: int) -> int:
    """The 1-based page of `doc` holding character `offset`, or 0 when the document has no pages."""
    if not doc.pages:
        return 0
    return max(1, bisect.bisect_right(doc.pages, offset))


def paged_document(path: Path, pages: list[str], title: str, date: str, sanitize: Sanitize) -> Document:
    """One `Document` from the text of each page; `pages` holds where each page starts in its text
    (an empty page starts where the next one does)."""
    parts: list[str] = []
    starts: list[int] = []
    length = 0
    for i, page in enumerate(pages):
        text = sanitize(page).strip()
        pages[i] = ""  # held once, in `parts`
        if parts and text:
            # A page that ends mid-sentence runs on into the next one: no paragraph break between them.
            gap = "\n" if not re.search(r"[.!?…:\"”’)]\s*$", parts[-1]) and text[:1].islower() else "\n\n"
            parts.append(gap)
            length += len(gap)
        starts.append(length)
        if text:
            parts.append(text)
            length += len(text)
    text = "".join(parts)
    first_lines = [line for line in text[:4000].split("\n") if line.strip()][:12]
    return Document(
        id=path.stem,
        text=text,
        title=sanitize(title).strip() or _first_line(first_lines) or path.stem,
        date=find_date(first_lines[:6]) or date,
        path=str(path),
        pages=tuple(starts) if len(starts) > 1 else (),
    )


def _first_line(lines: list[str]) -> str:
    line = lines[0].strip() if lines else ""
    return line if len(line) <= 120 else line[:120].rsplit(" ", 1)[0] + "…"


# -- PDF ---------------------------------------------------------------------------------------------

def read_pdf(path: Path, max_chars: int, sanitize: Sanitize) -> Document:
    """The PDF's text layer as one Document. Raises TooLarge past `max_chars` of text,
    UnreadableFileError for a scanned, encrypted or damaged file, OSError as the file system gives it."""
    PdfReader = require("pypdf", "reading PDFs", "inputs").PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file is one line, not pages of warnings
    encrypted = UnreadableFileError(f"{path}: an encrypted PDF that needs a password; save a copy without one "
                                    f"(qpdf --decrypt --password=... {path.name} open.pdf) or leave it out (--skip-bad)")
    with open(path, "rb") as f:
        try:
            reader = PdfReader(f)  # the file object, not the path: pypdf would read a path whole
            if reader.is_encrypted and reader.decrypt("") == 0:
                raise encrypted
            pages = _clean_pages(list(_pdf_pages(reader, max_chars)))
            title, date = _pdf_info(reader)
        except (FileNotDecryptedError, DependencyError):
            raise encrypted from None
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, AssertionError,
                RecursionError, OverflowError, ZeroDivisionError, UnicodeError, EOFError) as e:
            # pypdf reports broken files through many exception types; none is the user's to read.
            if isinstance(e, PdfReadError) and "password" in str(e).lower():
                raise encrypted from None
            raise UnreadableFileError(f"{path}: a damaged PDF that cannot be read; repair it (qpdf {path.name} "
                                      "fixed.pdf) or leave it out (--skip-bad)") from None
    if sum(len(re.sub(r"\W", "", p)) for p in pages) < MIN_TEXT_CHARS:
        raise UnreadableFileError(
            f"{path}: a PDF with no text layer (scanned?); run OCR on it first (ocrmypdf {path.name} out.pdf) "
            "or leave it out (--skip-bad)")
    return paged_document(path, pages, title, date, sanitize)


def _pdf_pages(reader, max_chars: int) -> Iterator[str]:
    """Each page's text in reading order, one page at a time; what was parsed for a page is let go
    before the next (pypdf would otherwise keep every page's objects)."""
    total = 0
    for i in range(len(reader.pages)):
        text = reader.pages[i].extract_text() or ""
        total += len(text)
        if total > max_chars:
            raise TooLarge
        reader.resolved_objects.clear()  # re-read from the file when needed again
        yield text


def _pdf_info(reader) -> tuple[str, str]:
    """(title, ISO date) from the PDF's metadata, each "" when absent or meaningless."""
    try:
        meta = reader.metadata or {}
    except Exception:  # a damaged /Info is not worth losing the text for
        return "", ""
    title = str(meta.get("/Title") or "").strip()
    if re.match(r"^(microsoft word - |untitled\b)|\.(docx?|pdf|odt|tex)$", title, re.IGNORECASE):
        title = ""  # a file name, not a title
    m = re.match(r"D:(\d{4})(\d{2})(\d{2})", str(meta.get("/CreationDate") or ""))
    date = ""
    if m:
        try:
            date = datetime(int(m.group(1)), int(m.group(2)), int(m.group(3))).date().isoformat()
        except ValueError:
            pass
    return title, date


# -- a page's lines back into paragraphs -----------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[\divxlc]{1,6}(?:\s*(?:/|of)\s*\d+)?$|^[-–—]\s*\d+\s*[-–—]$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’)\]]*$")
_HYPHENATED = re.compile(r"([^\W\d_]+)[-\u00ad]$")


def _furniture_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def _lines(page: str) -> list[str]:
    return [line.strip() for line in page.splitlines() if line.strip()]


def _clean_pages(pages: list[str]) -> list[str]:
    """Running headers and footers out (a line among the first or last two of a page that recurs,
    numbers aside, on at least half the pages and at least two, and bare page numbers), then each page reflowed.
    Each page's lines exist only while it is worked on, and its raw text is let go once reflowed."""
    edges: Counter[str] = Counter()
    hyphenated: set[str] = set()
    for page in pages:
        page_lines = _lines(page)
        edges.update({_furniture_key(line) for line in page_lines[:2] + page_lines[-2:]})
        hyphenated.update(w.lower() for w in re.findall(r"\b[^\W\d_]+-[^\W\d_]+\b", page))
    running = {key for key, n in edges.items() if n >= 2 and n >= len(pages) / 2}
    cleaned = []
    for i, page in enumerate(pages):
        page_lines = _lines(page)
        n = len(page_lines)
        kept = [line for j, line in enumerate(page_lines)
                if not ((j < 2 or j >= n - 2) and (_furniture_key(line) in running or _PAGE_NUMBER.match(line)))]
        cleaned.append(reflow(kept, hyphenated))
        pages[i] = ""
    return cleaned


def reflow(lines: list[str], hyphenated: Iterable[str] = ()) -> str:
    """Lines as a PDF lays them out → paragraphs separated by blank lines. A line ends its paragraph
    when it ends a sentence well short of the page's usual line length, or is a short heading; a
    word split at a line end ("sup-" + "ply") is joined unless it is written with its hyphen elsewhere."""
    if not lines:
        return ""
    keep_hyphen = set(hyphenated)
    lengths = sorted(len(line) for line in lines)
    width = lengths[(3 * len(lengths)) // 4]  # the median of the longer half: a full line
    paragraphs: list[str] = []
    current = ""
    for i, line in enumerate(lines):
        if current.endswith(("-", "\u00ad")) and (m := _HYPHENATED.search(current)) and line[:1].islower():
            whole = f"{m.group(1)}-{line.split(' ', 1)[0]}".rstrip(".,;:!?").lower()
            current = current[:-1] + ("-" if whole in keep_hyphen else "") + line
        else:
            current = f"{current} {line}" if current else line
        next_line = lines[i + 1] if i + 1 < len(lines) else ""
        short = len(line) < 0.7 * width
        heading = short and not _SENTENCE_END.search(line) and not line.endswith((",", "-")) \
            and next_line[:1].isupper() and len(line.split()) <= 12 and current == line
        if not next_line or (short and _SENTENCE_END.search(line)) or heading:
            paragraphs.append(current)
            current = ""
    return "\n\n".join(paragraphs)


# -- Word ----------------------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(path: Path, data: bytes, sanitize: Sanitize) -> Document:
    import io
    import zipfile

    docx = require("docx", "reading Word files", "inputs")
    from docx.opc.exceptions import PackageNotFoundError

    try:
        word = docx.Document(io.BytesIO(data))
        pages = _docx_pages(word.element.body)
        props = word.core_properties
        title = props.title or ""
        created = props.created.date().isoformat() if props.created else ""
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as e:
        why = "not a Word file" if isinstance(e, (PackageNotFoundError, zipfile.BadZipFile)) else "damaged"
        raise UnreadableFileError(f"{path}: {why}; save it again from Word or LibreOffice, or leave it out (--skip-bad)") from None
    except Exception as e:  # lxml's XMLSyntaxError and the like: a damaged part
        if type(e).__module__.startswith(("lxml", "docx")):
            raise UnreadableFileError(f"{path}: damaged; save it again from Word or LibreOffice, or leave it out (--skip-bad)") from None
        raise
    return paged_document(path, pages, title, created, sanitize)


def _docx_pages(body) -> list[str]:
    """The text of each page, paragraphs (and table cells) in document order. A hard page break or
    one Word recorded at layout starts a page (two in a row with no text between count once)."""
    pages: list[list[str]] = [[]]
    for p in body.iter(f"{_W}p"):
        if any(a.tag == f"{_W}p" for a in p.iterancestors()):  # a paragraph inside a text box's paragraph
            continue
        text: list[str] = []
        for node in p.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr", f"{_W}lastRenderedPageBreak"):
            tag = node.tag[len(_W):]
            if tag == "t":
                text.append(node.text or "")
            elif tag == "tab":
                text.append(" ")
            elif tag == "cr" or (tag == "br" and node.get(f"{_W}type") not in ("page", "column")):
                text.append("\n")
            elif tag in ("br", "lastRenderedPageBreak") and (tag == "lastRenderedPageBreak" or node.get(f"{_W}type") == "page"):
                before = "".join(text).strip()
                if before or pages[-1]:
                    if before:
                        pages[-1].append(before)
                    pages.append([])
                text = []
        rest = "".join(text).strip()
        if rest:
            pages[-1].append(rest)
    return ["\n\n".join(page) for page in pages]
