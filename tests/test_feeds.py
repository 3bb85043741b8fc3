"""Feeds and web pages in `assistant index URL`, against a news site on 127.0.0.1 (feed_server.py):
entries indexed from their own text or their linked page, dates and sources from the feed, a
second run that downloads nothing unchanged, and every fault one line with nothing lost."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from assistant import fetch
from assistant.cli import app
from assistant.settings import Settings
from assistant.store import load_index

from documents import paragraphs
from feed_server import Entry, Site, page_html, serve
from robustness.helpers import use_hash_embedder

runner = CliRunner()


def news_site() -> Site:
    site = Site()
    whole = "".join(f"<p>{p}</p>" for p in paragraphs(0))  # a full article inside the feed
    site.entries = [
        Entry("rare-earths", "China's grip on rare earths", "Mon, 09 Jun 2025 08:00:00 GMT", "China restricts exports.", whole),
        Entry("london-talks", "Talks in London", "Tue, 10 Jun 2025 09:30:00 GMT", "US and Chinese officials met in London."),
        Entry("magnets", "Magnet makers wait", "Wed, 11 Jun 2025 07:15:00 GMT", "Factories wait for licences."),
    ]
    site.pages = {"/articles/london-talks.html": page_html("Talks in London (site title)", paragraphs(1)),
                  "/articles/magnets.html": page_html("Magnet makers wait", paragraphs(2)),
                  "/private/memo.html": page_html("A memo", paragraphs(3))}
    return site


@pytest.fixture
def quick(monkeypatch):
    use_hash_embedder(monkeypatch)


class Run:
    def __init__(self, result):
        self.exit_code, self.output, self.stderr = result.exit_code, result.output, result.stderr
        self.stdout = " ".join(result.stdout.split())  # unwrapped


def index(tmp_path, *args: str) -> Run:
    result = runner.invoke(app, ["index", *args, "--index", str(tmp_path / "index")], env={"COLUMNS": "1000"})
    assert "Traceback" not in result.output, result.output
    return Run(result)


def documents(tmp_path):
    return load_index(Settings(index_dir=tmp_path / "index")).documents


def test_a_feed_indexes_its_entries_and_a_second_run_downloads_nothing_unchanged(tmp_path, quick):
    with serve(news_site()) as site:
        feed = f"{site.url}/feed.xml"
        first = index(tmp_path, feed)
        assert first.exit_code == 0, first.output
        assert sorted(path for path, _ in site.log) == sorted(
            ["/robots.txt", "/feed.xml", "/articles/london-talks.html", "/articles/magnets.html"])
        docs = {d.title: d for d in documents(tmp_path).values()}
        assert set(docs) == {"China's grip on rare earths", "Talks in London", "Magnet makers wait"}
        own = docs["China's grip on rare earths"]  # its own text, no page fetched
        assert paragraphs(0)[0][:60] in own.text and own.url == f"{site.url}/articles/rare-earths.html"
        talks = docs["Talks in London"]
        assert paragraphs(1)[1][:60] in talks.text and "Newsletter" not in talks.text and "Home" not in talks.text
        assert [d.date for d in docs.values()] == ["2025-06-09", "2025-06-10", "2025-06-11"]
        assert {d.source for d in docs.values()} == {"The Harbour Gazette"}

        seen = len(site.log)
        again = index(tmp_path)  # the index's own sources: the feed, by URL
        assert again.exit_code == 0 and "0 added, 0 changed, 0 removed, 3 unchanged" in again.stdout, again.output
        assert site.requests(seen) == [("/robots.txt", 304), ("/feed.xml", 304)]  # nothing downloaded

        site.entries.append(Entry("ports", "Ports reopen", "Thu, 12 Jun 2025 06:00:00 GMT", "Ports reopen."))
        site.pages["/articles/ports.html"] = page_html("Ports reopen", paragraphs(3))
        seen = len(site.log)
        third = index(tmp_path, feed)
        assert "1 added, 0 changed, 0 removed, 3 unchanged" in third.stdout, third.output
        assert site.requests(seen) == [("/robots.txt", 304), ("/feed.xml", 200), ("/articles/ports.html", 200)]


def test_a_single_page_is_indexed_and_kept_when_it_later_fails(tmp_path, quick):
    with serve(news_site()) as site:
        page = f"{site.url}/articles/magnets.html"
        assert index(tmp_path, page).exit_code == 0
        (doc,) = documents(tmp_path).values()
        assert doc.title == "Magnet makers wait" and doc.date == "2025-06-10" and doc.url == page
        del site.pages["/articles/magnets.html"]  # now a 404
        result = index(tmp_path, page)
        assert result.exit_code == 0, result.output
        lines = [line for line in result.stderr.splitlines() if "magnets" in line]
        assert len(lines) == 1 and "404" in lines[0] and "kept the 1 documents" in lines[0]
        assert list(documents(tmp_path).values()) == [doc]


FAULTS = {  # path on the site: what its one line says
    "/slow.html": "no answer within 2 s",
    "/missing.html": "answered 404",
    "/loop1": "redirect loop",
    "/huge.html": "over the --max-file-mb limit",
    "/broken-feed.xml": "broken XML",
    "/private/memo.html": "robots.txt",
}


def test_each_fault_is_one_line_and_loses_nothing(tmp_path, quick, monkeypatch):
    """A slow server, a 404, a redirect loop, a 50 MB page, a feed with broken XML and a page
    robots.txt forbids, given with the feed in one run: one line each, the feed's entries kept."""
    with serve(news_site()) as site:
        feed = f"{site.url}/feed.xml"
        assert index(tmp_path, feed).exit_code == 0
        before = documents(tmp_path)
        monkeypatch.setattr(fetch, "TIMEOUT_S", 2.0)  # the slow page answers after 8 s
        site.slow_s = 8.0
        result = index(tmp_path, feed, *(f"{site.url}{path}" for path in FAULTS), "--max-file-mb", "5")
        assert result.exit_code == 0, result.output
        assert "skipped 6" in result.stdout
        for path, why in FAULTS.items():
            lines = [line for line in result.stderr.splitlines() if f"{site.url}{path}:" in line]
            assert len(lines) == 1 and why in lines[0] and lines[0].startswith("skipped "), (path, result.stderr)
        assert documents(tmp_path) == before  # the feed's entries all still there
        assert ("/huge.html", 200) in site.log and ("/private/memo.html", 200) not in site.log


def test_a_feed_that_cannot_be_read_keeps_what_it_gave_before(tmp_path, quick):
    with serve(news_site()) as site:
        feed = f"{site.url}/feed.xml"
        assert index(tmp_path, feed).exit_code == 0
        before = documents(tmp_path)
        site.entries.clear()
        original = site.feed_xml
        site.feed_xml = lambda: original()[:90]  # type: ignore[method-assign]  # cut off mid-tag
        result = index(tmp_path, feed)
        assert result.exit_code == 0, result.output
        lines = [line for line in result.stderr.splitlines() if "feed.xml" in line]
        assert len(lines) == 1 and "broken XML" in lines[0] and "kept the 3 documents" in lines[0], result.stderr
        assert documents(tmp_path) == before


def test_requests_name_the_tool_and_the_cache_is_json(tmp_path, quick, monkeypatch):
    seen: list[str] = []
    with serve(news_site()) as site:
        from assistant.fetch import Cache, Fetcher

        cache = Cache(tmp_path / "cache")
        fetcher = Fetcher(cache=cache)
        original = fetcher._get

        def spy(url, headers):
            seen.append(headers["User-Agent"])
            return original(url, headers)

        monkeypatch.setattr(fetcher, "_get", spy)
        got = fetcher.get(f"{site.url}/articles/magnets.html")
        assert got.status == 200 and got.etag
        assert fetcher.get(f"{site.url}/articles/magnets.html", etag=got.etag).status == 304
    assert seen and all(ua.startswith("assistant/") for ua in seen)
    import json

    for f in (tmp_path / "cache").iterdir():  # robots.txt's entry: plain JSON
        assert isinstance(json.loads(f.read_text()), dict)


def test_one_request_per_host_at_a_time(tmp_path):
    import threading

    from assistant.fetch import Cache, Fetcher

    site = news_site()
    site.slow_s = 0.5
    with serve(site):
        fetcher = Fetcher(cache=Cache(tmp_path / "cache"))
        threads = [threading.Thread(target=fetcher.get, args=(f"{site.url}/slow.html",)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert [p for p, _ in site.log].count("/slow.html") == 3
        assert site.most_at_once == 1
