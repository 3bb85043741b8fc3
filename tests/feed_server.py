"""A news site on 127.0.0.1 for the feed tests: an RSS feed, article pages, robots.txt, and the
faults (a slow page, a 404, a redirect loop, a 50 MB page, a feed with broken XML). It answers
conditional requests (ETag, Last-Modified) and logs every request it gets, as a web server would."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

ROBOTS = "User-agent: *\nDisallow: /private/\n"
STAMP = formatdate(1_749_500_000, usegmt=True)  # every resource's Last-Modified


def page_html(title: str, paragraphs: list[str], date: str = "2025-06-10") -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<html><head><title>{escape(title)}</title><meta property='article:published_time' content='{date}'>"
            f"</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article><h1>{escape(title)}</h1>"
            f"{body}</article><footer>Contact us · Newsletter</footer></body></html>")


@dataclass
class Entry:
    slug: str
    title: str
    date: str  # RFC 822, as RSS writes it
    summary: str
    content: str = ""  # the whole article in the feed, when given


@dataclass
class Site:
    entries: list[Entry] = field(default_factory=list)
    pages: dict[str, str] = field(default_factory=dict)  # path -> HTML
    log: list[tuple[str, int]] = field(default_factory=list)  # (path, status) of every request
    slow_s: float = 3.0
    url: str = ""
    busy: int = 0  # requests being answered now, and the most at once
    most_at_once: int = 0
    _count: threading.Lock = field(default_factory=threading.Lock)

    def feed_xml(self) -> str:
        items = "".join(
            f"<item><title>{escape(e.title)}</title><link>{self.url}/articles/{e.slug}.html</link>"
            f"<pubDate>{e.date}</pubDate><description>{escape(e.summary)}</description>"
            + (f"<content:encoded><![CDATA[{e.content}]]></content:encoded>" if e.content else "") + "</item>"
            for e in self.entries)
        return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
                f"<channel><title>The Harbour Gazette</title><link>{self.url}/</link>{items}</channel></rss>")

    def requests(self, since: int = 0) -> list[tuple[str, int]]:
        return self.log[since:]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # the test reads site.log instead
            pass

        def _send(self, status: int, body: bytes = b"", kind: str = "text/html; charset=utf-8",
                  headers: dict[str, str] | None = None) -> None:
            site.log.append((self.path, status))
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if status != 304:
                self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def _resource(self, body: bytes, kind: str) -> None:
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, headers={"ETag": etag})
            self._send(200, body, kind, {"ETag": etag, "Last-Modified": STAMP})

        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            with site._count:
                site.busy += 1
                site.most_at_once = max(site.most_at_once, site.busy)
            try:
                self._answer()
            finally:
                with site._count:
                    site.busy -= 1

        def _answer(self) -> None:
            path = self.path
            if path == "/robots.txt":
                return self._resource(ROBOTS.encode(), "text/plain")
            if path == "/feed.xml":
                return self._resource(site.feed_xml().encode(), "application/rss+xml")
            if path == "/broken-feed.xml":
                return self._resource(b"<?xml version='1.0'?><rss version='2.0'><channel><tit", "application/rss+xml")
            if path == "/slow.html":
                time.sleep(site.slow_s)
                return self._resource(page_html("Slow", ["Too late to matter."]).encode(), "text/html")
            if path.startswith("/loop"):
                return self._send(302, headers={"Location": "/loop2" if path == "/loop1" else "/loop1"})
            if path == "/huge.html":  # 50 MB, sent as it is read (a page that never ends, near enough)
                site.log.append((path, 200))
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Connection", "close")
                self.end_headers()
                with contextlib.suppress(OSError):
                    block = b"<p>" + b"filler text " * 5000 + b"</p>"
                    for _ in range(50_000_000 // len(block)):
                        self.wfile.write(block)
                return
            if path in site.pages:
                return self._resource(site.pages[path].encode(), "text/html; charset=utf-8")
            self._send(404, b"not found", "text/plain")

    return Handler


@contextlib.contextmanager
def serve(site: Site) -> Iterator[Site]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
