"""URLs → `Document`s: an RSS/Atom feed's entries (feedparser), or one web page (trafilatura).

A feed entry is indexed from its own text when that is a whole article (FULL_ENTRY_WORDS words
or more), else from the page it links to, fetched and cleaned; its title, date and link come from
the entry, its source is the feed's title. What each download made is cached with its validators
(fetch.py), so a second run asks only with If-None-Match / If-Modified-Since and downloads only
what changed; an entry already read, unchanged in the feed (same link and same updated date), is
not asked for at all.

Nothing is lost to a fault: a URL that cannot be fetched or read (timeout, 404, redirect loop,
too large, broken XML) gives one line, and the documents it gave last time stay indexed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
import urllib.parse
import xml.sax
from collections.abc import Iterable, Iterator

from assistant.errors import require
from assistant.fetch import Cache, Fetched, FetchError, Fetcher
from assistant.ingest import FileResult, html_document, sanitize, site_of
from assistant.types import Document

FULL_ENTRY_WORDS = 150  # an entry with fewer words of its own is a summary: its linked page is read


def doc_id(url: str) -> str:
    """A readable, stable id for a URL: its last path segment and a short hash of the whole URL."""
    parts = urllib.parse.urlsplit(url)
    tail = [p for p in parts.path.split("/") if p]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", re.sub(r"\.\w{2,5}$", "", tail[-1] if tail else parts.netloc)).strip("-")
    return f"{slug[:60] or 'page'}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def _docs(entry: dict) -> list[Document]:
    return [Document(**d) for d in entry.get("documents", [])]


def _json(docs: Iterable[Document]) -> list[dict]:
    return [dataclasses.asdict(d) for d in docs]


def _decode(fetched: Fetched) -> str:
    m = re.search(r"charset=([\w-]+)", fetched.content_type, re.IGNORECASE)
    try:
        return fetched.body.decode(m.group(1) if m else "utf-8", "replace")
    except LookupError:
        return fetched.body.decode("utf-8", "replace")


def _is_feed(fetched: Fetched) -> bool:
    kind = fetched.content_type.lower()
    if any(k in kind for k in ("rss", "atom", "rdf")):
        return True
    head = fetched.body[:2000].lstrip().lower()
    return any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf")) and b"<html" not in head


def read_urls(urls: Iterable[str], fetcher: Fetcher, cache: Cache, *, offline: bool = False) -> Iterator[FileResult]:
    """One result per URL given: its documents (a feed's entries, or the page), with a note for
    each fault; a URL that failed keeps the documents its last download gave. `offline`: what
    the last download gave, without asking (a URL never fetched is fetched)."""
    for url in urls:
        cached = cache.get(url) if offline else {}
        yield FileResult(_docs(cached)) if cached.get("documents") else _read_url(url, fetcher, cache)


def _read_url(url: str, fetcher: Fetcher, cache: Cache) -> FileResult:
    cached = cache.get(url)
    try:
        fetched = fetcher.get(url, etag=cached.get("etag", ""), last_modified=cached.get("last_modified", ""))
    except FetchError as e:
        return _fault(str(e), cached)
    if fetched.status == 304:
        return FileResult(_docs(cached))
    validators = {"etag": fetched.etag, "last_modified": fetched.last_modified}
    if _is_feed(fetched):
        return _read_feed(url, fetched, cached, validators, fetcher, cache)
    doc = html_document(doc_id(url), _decode(fetched), url, fetched.url)
    if not doc.text.strip():
        return _fault(f"{url}: no article text found in the page", cached)
    cache.put(url, {**validators, "kind": "page", "documents": _json([doc])})
    return FileResult([doc])


def _fault(message: str, cached: dict) -> FileResult:
    kept = _docs(cached)
    if kept:
        return FileResult(kept, notes=[f"{message}; kept the {len(kept)} documents from its last download"])
    return FileResult([], skip=message)


def _read_feed(url: str, fetched: Fetched, cached: dict, validators: dict, fetcher: Fetcher, cache: Cache) -> FileResult:
    feedparser = require("feedparser", "reading feeds", "inputs")
    parsed = feedparser.parse(fetched.body, response_headers={"content-type": fetched.content_type or "application/xml",
                                                              "content-location": fetched.url})
    notes: list[str] = []
    problem = parsed.get("bozo_exception")
    broken = isinstance(problem, xml.sax.SAXException)  # not a mere encoding or content-type remark
    if (broken or parsed.get("bozo")) and not parsed.entries:
        why = str(problem or "not XML").splitlines()[0]
        return _fault(f"{url}: not a readable feed (broken XML: {why})", cached)
    if broken:
        why = str(problem).splitlines()[0]
        notes.append(f"{url}: the feed's XML is broken ({why}); read the {len(parsed.entries)} entries before the break")
    source = sanitize(parsed.feed.get("title") or site_of(url))
    before = {e["link"]: e for e in cached.get("entries", [])}
    entries, docs = [], []
    for entry in parsed.entries:
        link = urllib.parse.urljoin(fetched.url, entry.get("link") or "")
        if not link or not link.startswith(("http://", "https://")):
            continue
        updated = dict.get(entry, "updated") or dict.get(entry, "published") or ""  # not feedparser's fallbacks
        previous = before.get(link, {})
        if previous.get("updated") == updated and previous.get("documents"):
            made = _docs(previous)  # read before and unchanged in the feed: not asked for again
        else:
            made, note = _entry_documents(entry, link, source, fetcher, cache)
            notes.extend([note] if note else [])
            if not made and previous.get("documents"):
                made = _docs(previous)
        entries.append({"link": link, "updated": updated, "documents": _json(made)})
        docs.extend(made)
    cache.put(url, {**validators, "kind": "feed", "entries": entries, "documents": _json(docs)})
    return FileResult(docs, notes=notes)


def _entry_date(entry: dict) -> str:
    stamp = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    return time.strftime("%Y-%m-%d", stamp) if stamp else ""


def _entry_documents(entry: dict, link: str, source: str, fetcher: Fetcher, cache: Cache) -> tuple[list[Document], str]:
    """The entry's article: its own text when whole, else its linked page. Returns (documents, a
    note when the page could not be read)."""
    own = " ".join(c.get("value", "") for c in entry.get("content", [])) or entry.get("summary", "")
    text = _fragment_text(own)
    title = sanitize(entry.get("title") or "")
    if len(text.split()) < FULL_ENTRY_WORDS:
        page = _read_url(link, fetcher, cache)
        if not page.docs:
            return [], page.skip
        doc = page.docs[0]
        return [dataclasses.replace(doc, title=title or doc.title, source=source, url=link,
                                    date=_entry_date(entry) or doc.date, path=link)], "; ".join(page.notes)
    return [Document(id=doc_id(link), text=text, title=title or link, source=source, url=link, date=_entry_date(entry),
                     path=link)], ""


def _fragment_text(html: str) -> str:
    """An entry's HTML as paragraphs of plain text."""
    if not html.strip():
        return ""
    import lxml.html

    try:
        root = lxml.html.fromstring(f"<div>{html}</div>")
    except Exception:  # lxml's ParserError: not HTML after all
        return sanitize(html.strip())
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    blocks = [" ".join(el.text_content().split()) for el in root.iter("p", "li", "h1", "h2", "h3", "blockquote")]
    blocks = [b for b in blocks if b]
    return sanitize("\n\n".join(blocks) if blocks else " ".join(root.text_content().split()))
