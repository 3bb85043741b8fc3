"""Paths (folders, .txt, .md, .html, .jsonl) → clean `Document`s, duplicates dropped."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlparse

from assistant.clean import clean_page_text, find_date
from assistant.errors import EmptyCorpusError, InputError, UnreadableFileError
from assistant.types import Document

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED
                              and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.suffix.lower() in SUPPORTED:
            yield path
        else:
            raise UnreadableFileError(
                f"{path}: unsupported file type {path.suffix or '(none)'}; give .txt, .md, .html or .jsonl files"
            )


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise UnreadableFileError(f"{path}: looks like a binary file, not text; remove it or give only text files")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UnreadableFileError(
            f"{path}: not UTF-8 (bad byte at offset {e.start}); convert it, e.g. iconv -f latin1 -t utf-8"
        ) from None


def normalize_date(value: str) -> str:
    value = (value or "").strip()
    if len(value) >= 10 and value[4] in "-/" and value[:4].isdigit():
        return value[:10].replace("/", "-")
    return find_date([value]) if value else ""


def site_of(url: str) -> str:
    host = urlparse(url).netloc.lower()
    return host[4:] if host.startswith("www.") else host


def load_file(path: Path) -> list[Document]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return list(_load_jsonl(path))
    raw = read_text(path)
    if suffix in HTML_SUFFIXES:
        return [_from_html(path, raw)]
    cleaned = clean_page_text(raw)
    return [Document(id=path.stem, text=cleaned.text, title=cleaned.title, date=cleaned.date, path=str(path))]


def _from_html(path: Path, raw: str) -> Document:
    import trafilatura  # lazy: lxml is slow to import

    text = trafilatura.extract(raw, include_comments=False, include_tables=False, favor_precision=True) or ""
    meta = trafilatura.extract_metadata(raw)
    url = (meta.url if meta else "") or ""
    return Document(
        id=path.stem,
        text=text.replace("\n", "\n\n"),
        title=(meta.title if meta else "") or path.stem,
        source=(meta.sitename if meta else "") or site_of(url),
        url=url,
        date=normalize_date(meta.date if meta and meta.date else ""),
        path=str(path),
    )


def _jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) read one line at a time: a 2 GB file never sits in memory whole."""
    with open(path, "rb") as f:
        if b"\x00" in f.read(8192):
            raise UnreadableFileError(f"{path}: looks like a binary file, not text; remove it or give only text files")
        f.seek(0)
        offset = 0
        for lineno, raw in enumerate(f, 1):
            start = 3 if lineno == 1 and raw.startswith(b"\xef\xbb\xbf") else 0
            try:
                line = raw[start:].decode("utf-8")
            except UnicodeDecodeError as e:
                raise UnreadableFileError(
                    f"{path}: not UTF-8 (bad byte at offset {offset + start + e.start}); convert it, e.g. iconv -f latin1 -t utf-8"
                ) from None
            offset += len(raw)
            yield lineno, line


def _load_jsonl(path: Path) -> Iterator[Document]:
    for lineno, line in _jsonl_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UnreadableFileError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise UnreadableFileError(f'{path}:{lineno}: each line needs an object with a "text" string')
        cleaned = clean_page_text(row["text"])
        url = str(row.get("url") or "")
        doc_id = str(row.get("id") or f"{path.stem}-{lineno}")
        yield Document(
            id=doc_id,
            text=cleaned.text,
            title=str(row.get("title") or cleaned.title),
            source=str(row.get("source") or site_of(url)),
            url=url,
            date=normalize_date(str(row.get("date") or "")) or cleaned.date,
            path=f"{path}:{lineno}",
        )


def load_documents(paths: Iterable[Path], *, skip_bad: bool = False, warn=None) -> list[Document]:
    """Every document under `paths`, cleaned; same content indexed once; ids made unique."""
    docs: list[Document] = []
    seen_content: dict[str, str] = {}
    seen_ids: set[str] = set()
    for path in iter_files(paths):
        try:
            loaded = load_file(path)
        except UnreadableFileError as e:
            if not skip_bad:
                raise
            if warn:
                warn(f"skipped {e}")
            continue
        for doc in loaded:
            if not doc.text.strip():
                if warn:
                    warn(f"skipped {doc.path}: no article text found")
                continue
            if doc.content_hash in seen_content:
                if warn:
                    warn(f"skipped {doc.path}: same content as {seen_content[doc.content_hash]}")
                continue
            doc_id, n = doc.id, 2
            while doc_id in seen_ids:
                doc_id, n = f"{doc.id}-{n}", n + 1
            if doc_id != doc.id:
                doc = dataclasses.replace(doc, id=doc_id)
            seen_ids.add(doc_id)
            seen_content[doc.content_hash] = doc.path
            docs.append(doc)
    if not docs:
        where = ", ".join(str(p) for p in paths)
        raise EmptyCorpusError(f"no article text found in {where}; give a folder of .txt, .md, .html or .jsonl files")
    return docs
