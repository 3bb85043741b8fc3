"""The web page in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright) against
the real server: ask with the keyboard, wait for the answer, select a citation, and the article
beside the answer shows exactly the quoted span highlighted. Screenshots go to test-artifacts/."""

import json
import urllib.request

import pytest

from conftest import REPO, SERVER_KEY, start_server, stop

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"  # .ci/run installs Debian's chromium
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
Q = "Which rare earth metals did China stop exporting in April 2025?"


def api_ask(server: str, question: str) -> dict:
    request = urllib.request.Request(
        f"{server}/api/ask", data=json.dumps({"question": question}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SERVER_KEY}"})
    with urllib.request.urlopen(request, timeout=120) as r:
        return json.loads(r.read())


@pytest.fixture()
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: d.accept(SERVER_KEY))  # the page asks for the key on a 401
        page.set_default_timeout(90_000)
        yield page
        context.close()
        assert not errors, errors


def test_ask_then_the_cited_span_is_highlighted_in_its_article(server, page):
    expected = api_ask(server, Q)
    citation = expected["citations"][0]
    page.goto(server + "/")
    page.wait_for_function("document.getElementById('status').textContent.includes('5 articles')")
    page.keyboard.type(Q)  # the question box has focus
    page.keyboard.press("Enter")
    turn = page.locator(".turn").first
    page.wait_for_selector(".turn[data-state=done]")
    assert turn.locator(".answer").inner_text().startswith(expected["answer"].split(" [")[0][:60])
    assert turn.locator(".passages li").count() == len(expected["passages"])

    chip = turn.locator(f".answer .chip[data-n='{citation['n']}']")
    chip.click()
    mark = page.locator("#article #highlight")
    mark.wait_for()
    assert mark.inner_text() == citation["quote"]
    assert page.locator("#article-title").inner_text() == citation["title"]
    # scrolled into view: the highlight lies inside the visible part of the article's text box
    box, view = mark.bounding_box(), page.locator("#article-text").bounding_box()
    assert view["y"] <= box["y"] and box["y"] + box["height"] <= view["y"] + view["height"], (box, view)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-citation.png"))

    page.keyboard.press("Escape")  # closes the article; focus goes back to the chip
    assert page.locator("#article").is_hidden()
    assert page.evaluate("document.activeElement.classList.contains('chip')")
    page.keyboard.press("Enter")  # and the keyboard opens it again
    assert page.locator("#article #highlight").inner_text() == citation["quote"]


WATCH_WORKING = """
window.__working = [];  // every text the working line's stage was given, from the mutation records
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      const stage = node.nodeType === Node.TEXT_NODE ? record.target : node.querySelector && node.querySelector(".working .stage");
      if (!stage || !stage.classList || !stage.classList.contains("stage")) continue;
      const text = node.nodeType === Node.TEXT_NODE ? node.data : stage.textContent;
      if (window.__working[window.__working.length - 1] !== text) window.__working.push(text);
    }
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def test_while_the_answer_is_made_a_working_line_shows_the_stages_then_the_answer_replaces_it(server, page):
    page.add_init_script(WATCH_WORKING)
    page.goto(server + "/")
    page.fill("#question", Q)
    page.press("#question", "Enter")
    page.wait_for_selector(".turn[data-state=done]")
    shown = page.evaluate("window.__working")
    assert shown and shown[0] == "searching" and shown[-1] == "checking", shown
    assert page.locator(".turn .working").count() == 0  # the answer took its place
    assert page.locator(".turn .answer .chip").count() > 0


def test_readable_at_phone_width(server, page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/")
    page.fill("#question", Q)
    page.click("#ask-button")
    page.wait_for_selector(".turn[data-state=done]")
    page.locator(".answer .chip").first.click()
    page.locator("#highlight").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.answer')).fontSize)")
    assert font >= 15
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-phone.png"))


def test_a_pdf_citation_opens_the_pdf_at_the_quoted_span_with_its_page(tmp_path, page):
    import documents as make
    from assistant import index
    from documents import paragraphs

    folder = tmp_path / "reports"
    folder.mkdir()
    fact = "The harbour board said the lighthouse on Gull Island will be rebuilt in granite by the autumn of 2027."
    make.columns_pdf(folder / "board.pdf", "Harbour board minutes", paragraphs(0) + paragraphs(1) + [fact])
    index([folder], tmp_path / "index")
    process, url = start_server(tmp_path / "index", tmp_path)
    try:
        question = "When will the lighthouse on Gull Island be rebuilt?"
        citation = next(c for c in api_ask(url, question)["citations"] if "Gull Island" in c["quote"])
        assert citation["page"] >= 2
        page.goto(url + "/")
        page.fill("#question", question)
        page.click("#ask-button")
        page.wait_for_selector(".turn[data-state=done]")
        page.locator(f".answer .chip[data-n='{citation['n']}']").click()
        mark = page.locator("#article #highlight")
        mark.wait_for()
        assert mark.inner_text() == citation["quote"]
        assert f"page {citation['page']} of" in page.locator("#article-date").inner_text()
        assert f"page {citation['page']}" in page.locator(".sources").first.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-pdf-citation.png"))
    finally:
        stop(process)
