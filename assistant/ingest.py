"""Paths (folders, .txt, .md, .html, .jsonl, .pdf, .docx) → clean `Document`s, duplicates dropped.

Hostile or odd inputs are skipped with a warning and counted (or, for files that cannot be read
as text, stop the run with one line unless --skip-bad): a file over --max-file-mb is never read;
a .jsonl is streamed line by line and a line over the limit is skipped, and a PDF page by page
with its text held to the limit (readers.py), so memory stays bounded by the limit and the text kept; symbolic links out of the folder, link loops and broken links
are skipped; a file that vanishes, or keeps changing, while it is read is skipped; invisible
format and control characters are removed and citation-like markers ("[2]") in article text
are made inert ("(2)"), so an article cannot pass for a numbered passage.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import os
import re
import stat
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import urlparse

from assistant import readers
from assistant.clean import clean_page_text, find_date
from assistant.errors import EmptyCorpusError, InputError, UnreadableFileError
from assistant.types import Document

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES | readers.PDF_SUFFIXES | readers.DOCX_SUFFIXES
KINDS = ".txt, .md, .html, .jsonl, .pdf or .docx"
DEFAULT_MAX_FILE_MB = 25.0  # a news article is well under 1 MB; a .jsonl's limit is per line
MAX_WARNINGS = 20  # skips beyond this many are summed up in one line

Warn = Callable[[str], None]


class Skip(Exception):
    """This file (or line) is left out with a warning; the run goes on."""


# A citation marker as the answer side parses it ([2], [1, 3], [passage 2]); in article text it is inert.
_MARKER = re.compile(r"\[(\s*(?:passages?\s*)?\d+(?:\s*(?:,|;|–|-|and)\s*\d+)*\s*)\]", re.IGNORECASE)
_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@functools.cache
def _invisible() -> re.Pattern[str]:
    """Every control (but tab and newlines), format (zero-width, bidi overrides, soft hyphen, BOM),
    private-use and surrogate code point, as one character class; built once (~0.3 s)."""
    ranges: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Co", "Cs") and chr(cp) not in "\t\n\r":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]")


def sanitize(text: str) -> str:
    """Invisible characters out (zero-width, bidi overrides, soft hyphens, controls) and
    citation-like markers made inert. Right-to-left and other scripts are kept as they are."""
    text = _ASCII_CONTROLS.sub("", text) if text.isascii() else _invisible().sub("", text)
    return _MARKER.sub(r"(\1)", text) if "[" in text else text


def _note(skipped: list[str], warn: Warn | None, message: str) -> None:
    skipped.append(message)
    if warn and len(skipped) <= MAX_WARNINGS:
        warn(f"skipped {message}")


def iter_files(paths: Iterable[Path], skipped: list[str] | None = None, warn: Warn | None = None) -> Iterator[Path]:
    """The supported files under `paths`, sorted per argument. Hidden files and folders are left
    out; in a folder, symbolic links are followed only to files inside the folder."""
    skipped = [] if skipped is None else skipped
    for path in paths:
        path = Path(path)
        try:
            is_dir = path.is_dir()
            exists = is_dir or path.exists()
        except OSError as e:  # a link loop given on the command line
            raise InputError(f"{path}: cannot be opened ({os.strerror(e.errno or 0).lower()})") from None
        if not exists:
            raise InputError(f"{path}: no such file or folder")
        if is_dir:
            yield from sorted(_walk(path, skipped, warn))
        elif path.suffix.lower() in SUPPORTED:
            yield path
        else:
            raise UnreadableFileError(
                f"{path}: unsupported file type {path.suffix or '(none)'}; give {KINDS} files"
            )


def _walk(root: Path, skipped: list[str], warn: Warn | None) -> Iterator[Path]:
    real_root = os.path.realpath(root)

    def unreadable_folder(e: OSError) -> None:
        _note(skipped, warn, f"{e.filename}: folder cannot be read ({os.strerror(e.errno or 0).lower()})")

    for folder, dirs, files in os.walk(root, onerror=unreadable_folder):  # does not follow links to folders
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for d in dirs:
            if os.path.islink(os.path.join(folder, d)):
                _note(skipped, warn, f"{os.path.join(folder, d)}: a symbolic link to a folder (not followed)")
        for name in files:
            p = Path(folder) / name
            if name.startswith(".") or p.suffix.lower() not in SUPPORTED:
                continue
            if p.is_symlink():
                try:
                    target = os.path.realpath(p, strict=True)
                except OSError as e:
                    why = "a symbolic link loop" if e.errno == 40 else "a broken symbolic link"
                    _note(skipped, warn, f"{p}: {why}")
                    continue
                if os.path.commonpath([real_root, target]) != real_root:
                    _note(skipped, warn, f"{p}: a symbolic link to a file outside {root}")
                    continue
                if not os.path.isfile(target):
                    _note(skipped, warn, f"{p}: not a regular file")
                    continue
            yield p


def _os_error(path: Path, e: OSError) -> Exception:
    if isinstance(e, FileNotFoundError):
        return Skip(f"{path}: vanished while being indexed")
    if isinstance(e, PermissionError):
        return UnreadableFileError(f"{path}: permission denied; make it readable or leave it out (--skip-bad)")
    return UnreadableFileError(f"{path}: cannot be read ({os.strerror(e.errno or 0).lower()})")


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e6:.2f} MB"


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The whole file, read once and never more than `max_bytes`; retried when it changes under
    the reader (size or mtime moved), skipped when it keeps changing."""
    for _attempt in range(3):
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would block or never end
                raise Skip(f"{path}: not a regular file")
            with open(path, "rb") as f:
                before = os.fstat(f.fileno())
                if before.st_size > max_bytes:
                    raise Skip(f"{path}: {_mb(before.st_size)} is over the --max-file-mb limit of {_mb(max_bytes)}")
                data = f.read(max_bytes + 1)
                after = os.fstat(f.fileno())
        except OSError as e:
            raise _os_error(path, e) from None
        if len(data) > max_bytes:
            raise Skip(f"{path}: grew over the --max-file-mb limit of {_mb(max_bytes)} while being read")
        if before.st_mtime_ns == after.st_mtime_ns and before.st_size == after.st_size == len(data):
            return data
    raise Skip(f"{path}: kept changing while being read; index it again when it is written")


def _decode(path: Path | str, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableFileError(f"{path}: looks like a binary file, not text; remove it or give only text files")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UnreadableFileError(
            f"{path}: not UTF-8 (bad byte at offset {e.start}); convert it, e.g. iconv -f latin1 -t utf-8"
        ) from None


def read_text(path: Path, max_bytes: int = int(DEFAULT_MAX_FILE_MB * 1e6)) -> str:
    return _decode(path, read_bytes(path, max_bytes))


def normalize_date(value: str) -> str:
    value = (value or "").strip()
    if len(value) >= 10 and value[4] in "-/" and value[:4].isdigit():
        return value[:10].replace("/", "-")
    return find_date([value]) if value else ""


def is_url(text: object) -> bool:
    """An http(s) URL given where a path could be (a feed or a page to fetch)."""
    return isinstance(text, str) and "://" in text and text.split("://", 1)[0].lower() in ("http", "https")


def site_of(url: str) -> str:
    host = urlparse(url).netloc.lower()
    return host[4:] if host.startswith("www.") else host


def load_file(
    path: Path, max_bytes: int = int(DEFAULT_MAX_FILE_MB * 1e6), skipped: list[str] | None = None,
    warn: Warn | None = None,
) -> list[Document]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return list(_load_jsonl(path, max_bytes, [] if skipped is None else skipped, warn))
    if suffix in readers.PDF_SUFFIXES:
        return [_from_pdf(path, max_bytes)]
    if suffix in readers.DOCX_SUFFIXES:
        return [readers.read_docx(path, read_bytes(path, max_bytes), sanitize)]
    raw = sanitize(read_text(path, max_bytes))
    if suffix in HTML_SUFFIXES:
        return [html_document(path.stem, raw, str(path))]
    cleaned = clean_page_text(raw)
    return [Document(id=path.stem, text=cleaned.text, title=cleaned.title, date=cleaned.date, path=str(path))]


def _from_pdf(path: Path, max_bytes: int) -> Document:
    """Streamed from the file page by page: the file's size is not limited, its text is."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise Skip(f"{path}: not a regular file")
        return readers.read_pdf(path, max_bytes, sanitize)
    except readers.TooLarge:
        raise Skip(f"{path}: its text is over the --max-file-mb limit of {_mb(max_bytes)}") from None
    except OSError as e:
        raise _os_error(path, e) from None


def html_document(doc_id: str, raw: str, path: str, url: str = "") -> Document:
    """A web page (saved, or fetched from `url`) cleaned by trafilatura: the article's text, title,
    site and date."""
    import trafilatura  # lazy: lxml is slow to import

    text = trafilatura.extract(raw, include_comments=False, include_tables=False, favor_precision=True) or ""
    meta = trafilatura.extract_metadata(raw)
    url = (meta.url if meta else "") or url
    return Document(
        id=doc_id,
        text=sanitize(text).replace("\n", "\n\n"),
        title=sanitize((meta.title if meta else "") or doc_id),
        source=(meta.sitename if meta else "") or site_of(url),
        url=url,
        date=normalize_date(meta.date if meta and meta.date else ""),
        path=path,
    )


def _jsonl_lines(path: Path, max_bytes: int, skipped: list[str], warn: Warn | None) -> Iterator[tuple[int, bytes]]:
    """(line number, line) streamed; a line longer than `max_bytes` is skipped without holding it."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise _os_error(path, e) from None
    with f:
        lineno = 0
        while True:
            try:
                line = f.readline(max_bytes + 1)
            except OSError as e:
                raise _os_error(path, e) from None
            if not line:
                return
            lineno += 1
            if len(line) > max_bytes and not line.endswith(b"\n"):
                length = len(line)
                while line and not line.endswith(b"\n"):  # read on to the end of the line, 1 MB at a time
                    line = f.readline(1 << 20)
                    length += len(line)
                _note(skipped, warn, f"{path}:{lineno}: a {_mb(length)} line is over the --max-file-mb limit of {_mb(max_bytes)}")
                continue
            yield lineno, line


def _load_jsonl(path: Path, max_bytes: int, skipped: list[str], warn: Warn | None) -> Iterator[Document]:
    for lineno, data in _jsonl_lines(path, max_bytes, skipped, warn):
        where = f"{path}:{lineno}"
        line = _decode(where, data[3:] if lineno == 1 and data.startswith(b"\xef\xbb\xbf") else data)
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UnreadableFileError(f"{where}: not valid JSON ({e.msg})") from None
        except RecursionError:
            raise UnreadableFileError(f"{where}: not valid JSON (nested too deeply)") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise UnreadableFileError(f'{where}: each line needs an object with a "text" string')
        cleaned = clean_page_text(sanitize(row["text"]))
        url = str(row.get("url") or "")
        doc_id = str(row.get("id") or f"{path.stem}-{lineno}")
        yield Document(
            id=doc_id,
            text=cleaned.text,
            title=sanitize(str(row.get("title") or cleaned.title)),
            source=sanitize(str(row.get("source") or site_of(url))),
            url=url,
            date=normalize_date(str(row.get("date") or "")) or cleaned.date,
            path=where,
        )


@dataclasses.dataclass
class FileResult:
    """What reading and cleaning one file gave: its documents, the lines of it left out, or why the
    whole file is left out. Plain data, so it can be computed elsewhere (a Ray worker) and
    accepted here in file order."""

    docs: list[Document]
    notes: list[str] = dataclasses.field(default_factory=list)  # lines of a .jsonl skipped
    skip: str = ""  # the file is skipped with this warning
    unreadable: str = ""  # the file cannot be read as text: stops the run unless --skip-bad

    def to_json(self) -> str:
        return json.dumps({"docs": [dataclasses.asdict(d) for d in self.docs], "notes": self.notes,
                           "skip": self.skip, "unreadable": self.unreadable}, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> FileResult:
        row = json.loads(data)
        return cls([Document(**d) for d in row["docs"]], row["notes"], row["skip"], row["unreadable"])


def read_file(path: Path, max_bytes: int) -> FileResult:
    """Read and clean one file (the work `assistant index --ray` sends to the cluster)."""
    notes: list[str] = []
    try:
        return FileResult(load_file(path, max_bytes, notes), notes)
    except Skip as e:
        return FileResult([], notes, skip=str(e))
    except UnreadableFileError as e:
        return FileResult([], notes, unreadable=str(e))


ReadFiles = Callable[[Iterable[Path], int], Iterable[FileResult]]


def _read_here(files: Iterable[Path], max_bytes: int) -> Iterator[FileResult]:
    return (read_file(path, max_bytes) for path in files)


def load_documents(
    paths: Iterable[Path | str],
    *,
    skip_bad: bool = False,
    warn: Warn | None = None,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    skipped: list[str] | None = None,
    read_files: ReadFiles | None = None,
    fetch_urls: bool = True,
) -> list[Document]:
    """Every document under `paths`, cleaned; same content indexed once; ids made unique. What is
    left out is appended to `skipped` (one message each) and warned about, the first
    MAX_WARNINGS one by one and the rest in one closing line. `read_files` reads and cleans the
    files elsewhere (`assistant index --ray`), yielding one result per file in their order; the
    default reads them here, one at a time. URLs (http, https) are fetched after the files: a
    feed's entries or a page (feeds.py), each fault a note; with `fetch_urls=False`, what they
    gave last time, without asking."""
    if max_file_mb <= 0:
        raise InputError(f"--max-file-mb must be positive, not {max_file_mb}")
    paths = list(paths)
    max_bytes = int(max_file_mb * 1e6)
    urls = [str(p) for p in paths if is_url(p)]
    skipped = [] if skipped is None else skipped
    docs: list[Document] = []
    seen_content: dict[str, str] = {}
    seen_ids: set[str] = set()
    files = iter_files([Path(p) for p in paths if not is_url(p)], skipped, warn)  # lazy: found as they are read
    results: Iterable[FileResult] = (read_files or _read_here)(files, max_bytes)
    if urls:
        from assistant import feeds
        from assistant.fetch import Fetcher, default_cache

        cache = default_cache()
        fetcher = Fetcher(max_bytes=max_bytes, cache=cache)
        results = itertools.chain(results, feeds.read_urls(urls, fetcher, cache, offline=not fetch_urls))
    for result in results:
        for note in result.notes:
            _note(skipped, warn, note)
        if result.skip:
            _note(skipped, warn, result.skip)
            continue
        if result.unreadable:
            if not skip_bad:
                raise UnreadableFileError(result.unreadable)
            _note(skipped, warn, result.unreadable)
            continue
        for doc in result.docs:
            if not doc.text.strip():
                _note(skipped, warn, f"{doc.path}: no article text found")
                continue
            if doc.content_hash in seen_content:
                _note(skipped, warn, f"{doc.path}: same content as {seen_content[doc.content_hash]}")
                continue
            doc_id, n = doc.id, 2
            while doc_id in seen_ids:
                doc_id, n = f"{doc.id}-{n}", n + 1
            if doc_id != doc.id:
                doc = dataclasses.replace(doc, id=doc_id)
            seen_ids.add(doc_id)
            seen_content[doc.content_hash] = doc.path
            docs.append(doc)
    if warn and len(skipped) > MAX_WARNINGS:
        warn(f"skipped {len(skipped) - MAX_WARNINGS} more (same kinds of reasons); {len(skipped)} skipped in all")
    if not docs:
        where = ", ".join(str(p) for p in paths)
        raise EmptyCorpusError(f"no article text found in {where}; give a folder of {KINDS} files")
    return docs
