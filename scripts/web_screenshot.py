"""The README's picture of the web page: ask a running `assistant serve`, select a citation, save a screenshot.

    python scripts/web_screenshot.py http://127.0.0.1:8000 "QUESTION" --chip 1 --out docs/web.png
Needs Debian's chromium (/usr/bin/chromium) and the playwright package (the dev extra)."""

import argparse
import tempfile

from playwright.sync_api import sync_playwright

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("question")
parser.add_argument("--chip", type=int, default=1, help="the citation number to open")
parser.add_argument("--out", default="docs/web.png")
parser.add_argument("--width", type=int, default=1280)
parser.add_argument("--height", type=int, default=760)
args = parser.parse_args()

with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
    context = p.chromium.launch_persistent_context(profile, executable_path="/usr/bin/chromium", headless=True,
                                                   args=FLAGS, viewport={"width": args.width, "height": args.height})
    page = context.new_page()
    page.goto(args.url.rstrip("/") + "/")
    page.fill("#question", args.question)
    page.keyboard.press("Enter")
    page.wait_for_selector(".turn[data-state=done]", timeout=120_000)
    page.fill("#question", "")
    page.locator(f".answer .chip[data-n='{args.chip}']").click()
    page.locator("#highlight").wait_for()
    page.screenshot(path=args.out)
    context.close()
print(args.out)
