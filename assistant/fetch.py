"""Polite HTTP fetching with a cache: what `assistant index URL` and `assistant watch URL` download.

Every request names the tool in its User-Agent, has a timeout (per read, and for the whole body),
reads at most --max-file-mb (a larger body is abandoned, not held), follows at most
MAX_REDIRECTS redirects (a loop is an error), asks robots.txt first (once per host and run;
a disallowed URL is not fetched; RFC 9309: a robots.txt that is missing allows everything, one
that cannot be reached disallows it), waits the crawl delay robots.txt asks for, and sends one
request per host at a time (a lock per host).

The cache keeps, per URL, the validators (ETag, Last-Modified) and what was made of the last
download (the documents; for a feed, its entries), as JSON in `<cache>/fetch/` (never a pickle).
A second fetch sends If-None-Match / If-Modified-Since; a 304 means the cached result stands,
so an unchanged feed or page is not downloaded again. A failure (timeout, 404, too large, a
redirect loop) is a `FetchError` with one line; the caller keeps what the cache holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import urllib.robotparser
from dataclasses import dataclass, field
from pathlib import Path

from assistant import __version__

USER_AGENT = f"assistant/{__version__} (offline news question answering; fetches feeds and pages it is given)"
TIMEOUT_S = 20.0  # per connection and read; a whole body must also arrive within BODY_TIMEOUT_S
BODY_TIMEOUT_S = 60.0
MAX_REDIRECTS = 5
MAX_CRAWL_DELAY_S = 10.0  # a robots.txt crawl delay is honoured up to this


class FetchError(Exception):
    """A URL could not be fetched; the message is one line naming it and why."""


@dataclass
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 when the cached copy stands
    body: bytes = b""
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS
    max_repeats = 1  # the same URL twice in a chain is a loop


@dataclass
class Fetcher:
    """One run's fetching: robots.txt per host, a lock per host, the crawl delays."""

    max_bytes: int = 25_000_000
    cache: Cache | None = None  # robots.txt files are cached (and revalidated) here too
    timeout_s: float = 0.0  # 0: TIMEOUT_S
    body_timeout_s: float = 0.0  # 0: BODY_TIMEOUT_S
    _robots: dict[str, urllib.robotparser.RobotFileParser | None] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._opener = urllib.request.build_opener(_Redirects())
        self.timeout_s = self.timeout_s or TIMEOUT_S
        self.body_timeout_s = self.body_timeout_s or BODY_TIMEOUT_S

    def _host_lock(self, host: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host, threading.Lock())

    def get(self, url: str, *, etag: str = "", last_modified: str = "", check_robots: bool = True) -> Fetched:
        """GET `url` (conditionally, when validators are given). Raises FetchError."""
        parts = urllib.parse.urlsplit(url)
        host = parts.netloc.lower()
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        with self._host_lock(host):  # one request per host at a time, robots.txt's included
            delay = 0.0
            if check_robots:
                robots = self.robots(f"{parts.scheme}://{parts.netloc}")
                if robots is None:
                    raise FetchError(f"{url}: its site's robots.txt cannot be reached, so nothing there is fetched")
                if not robots.can_fetch(USER_AGENT, url):
                    raise FetchError(f"{url}: robots.txt of {host} does not allow fetching it")
                delay = min(float(robots.crawl_delay(USER_AGENT) or 0), MAX_CRAWL_DELAY_S)
            wait = self._last.get(host, 0.0) + delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                return self._get(url, headers)
            finally:
                self._last[host] = time.monotonic()

    def _get(self, url: str, headers: dict[str, str]) -> Fetched:
        request = urllib.request.Request(url, headers=headers)
        try:
            response = self._opener.open(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as e:
            if e.code == 304:
                return Fetched(url=url, status=304)
            if 300 <= e.code < 400:
                raise FetchError(f"{url}: too many redirects or a redirect loop") from None
            raise FetchError(f"{url}: the server answered {e.code} {e.reason}") from None
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise FetchError(f"{url}: no answer within {self.timeout_s:g} s") from None
            raise FetchError(f"{url}: cannot be reached ({reason})") from None
        except (TimeoutError, OSError, ValueError) as e:
            why = f"no answer within {self.timeout_s:g} s" if isinstance(e, TimeoutError) else str(e) or type(e).__name__
            raise FetchError(f"{url}: {why}") from None
        with response:
            declared = response.headers.get("Content-Length")
            limit = f"over the --max-file-mb limit of {self.max_bytes / 1e6:g} MB"
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(f"{url}: {int(declared) / 1e6:,.1f} MB, {limit}")
            deadline = time.monotonic() + self.body_timeout_s
            chunks, size = [], 0
            try:
                while block := response.read(1 << 16):
                    chunks.append(block)
                    size += len(block)
                    if size > self.max_bytes:
                        raise FetchError(f"{url}: {limit}")
                    if time.monotonic() > deadline:
                        raise FetchError(f"{url}: the body did not arrive within {self.body_timeout_s:g} s")
            except (TimeoutError, OSError) as e:
                raise FetchError(f"{url}: the body stopped arriving ({e or type(e).__name__})") from None
            return Fetched(url=response.geturl(), status=response.status, body=b"".join(chunks),
                           content_type=response.headers.get("Content-Type", ""),
                           etag=response.headers.get("ETag", ""), last_modified=response.headers.get("Last-Modified", ""))

    def robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        """The site's robots.txt rules (read once per run), or None when it cannot be reached."""
        if origin in self._robots:
            return self._robots[origin]
        url = origin + "/robots.txt"
        parser = urllib.robotparser.RobotFileParser(url)
        cached = self.cache.get(url) if self.cache else {}
        headers = {"User-Agent": USER_AGENT}
        if cached.get("etag"):
            headers["If-None-Match"] = cached["etag"]
        if cached.get("last_modified"):
            headers["If-Modified-Since"] = cached["last_modified"]
        try:
            fetched = self._get(url, headers)
            text = cached.get("text", "") if fetched.status == 304 else fetched.body.decode("utf-8", "replace")
            if self.cache and fetched.status != 304:
                self.cache.put(url, {"etag": fetched.etag, "last_modified": fetched.last_modified, "text": text})
            parser.parse(text.splitlines())
        except FetchError as e:
            if " answered 4" in str(e):  # missing: everything allowed
                parser.parse([])
            else:  # unreachable or 5xx: nothing allowed
                self._robots[origin] = None
                return None
        self._robots[origin] = parser
        return parser


# -- the cache ----------------------------------------------------------------------------------------

class Cache:
    """One JSON file per URL in `folder`: validators and what was made of the last download."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _file(self, url: str) -> Path:
        return self.folder / f"{hashlib.sha256(url.encode()).hexdigest()[:40]}.json"

    def get(self, url: str) -> dict:
        try:
            entry = json.loads(self._file(url).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return entry if isinstance(entry, dict) and entry.get("url") == url else {}

    def put(self, url: str, entry: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self._file(url)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        try:
            tmp.write_text(json.dumps({**entry, "url": url, "saved": time.time()}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, target)
        except OSError:  # a cache that cannot be written only costs a download next time
            with contextlib.suppress(OSError):
                tmp.unlink()


def default_cache() -> Cache:
    from assistant.model_files import cache_dir

    return Cache(cache_dir() / "fetch")
