"""Strip web-page furniture from text saved from a web page; find its title and date.

Saved pages carry navigation menus, share buttons, "You might also like" lists of unrelated
headlines and contact blocks. No library cleans *plain text* (trafilatura needs the HTML tree),
so this works line by line: a line is kept when it reads like prose, a short line only when it
sits between prose lines (a section heading), and everything after a closing marker such as
"You Might Also Like" or "Contact Us" is dropped once the body has started.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

# A line equal to one of these ends the article body.
END_MARKERS = {
    "you might also like", "you may also like", "latest news", "related articles", "related stories",
    "related posts", "more stories", "more from", "read more", "recommended", "recommended for you",
    "share this article", "contact us", "leave a reply", "leave a comment", "comments", "tags",
    "about the author", "popular posts", "trending", "most read", "newsletter", "subscribe",
    "previous article", "next article", "bottom of page",
}
# Short lines that are furniture wherever they appear.
FURNITURE = {
    "share", "advertisement", "contents", "top of page", "notification", "search", "menu", "print",
    "copy link", "skip to content", "sign in", "log in", "subscribe", "home", "news", "tags",
}
BULLET = re.compile(r"^\s*(?:[•·▪◦\-–*]|\d+[.)])\s+")
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")
WORD = re.compile(r"[^\W_][\w'’-]*")  # any script: an Arabic or Hebrew line is prose too
COPYRIGHT = re.compile(r"^©|all rights reserved|^copyright\b", re.IGNORECASE)
READ_TIME = re.compile(r"\b\d+\s*min(ute)?s?\s+read\b", re.IGNORECASE)
DOUBLED = re.compile(r"^(.{20,}?)\1$")  # an image caption repeated back to back

MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
MONTH_DATE = re.compile(
    r"\b(" + "|".join(MONTHS) + r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?\s+(\d{1,2}),?\s+(\d{4})",
    re.IGNORECASE,
)
DAY_MONTH_DATE = re.compile(r"\b(\d{1,2})\s+(" + "|".join(MONTHS) + r")\s+(\d{4})", re.IGNORECASE)
NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})")
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


@dataclass(frozen=True)
class CleanText:
    text: str
    title: str
    date: str  # ISO, or "" when the header gives none


def _words(line: str) -> int:
    return len(WORD.findall(line))


def _is_prose(line: str) -> bool:
    """A sentence, or a bullet that holds one."""
    body = BULLET.sub("", line).strip()
    n = _words(body)
    if COPYRIGHT.search(body):
        return False
    return (n >= 6 and bool(SENTENCE_END.search(body))) or n >= 20


def _norm(line: str) -> str:
    return re.sub(r"[\s:]+", " ", BULLET.sub("", line)).strip().lower()


def find_date(lines: list[str]) -> str:
    """The first explicit date in the page header (the lines before the body)."""
    for line in lines:
        for pattern, order in ((MONTH_DATE, "mdy"), (DAY_MONTH_DATE, "dmy"), (ISO_DATE, "ymd"), (NUMERIC_DATE, "mdy#")):
            m = pattern.search(line)
            if not m:
                continue
            try:
                if order == "mdy":
                    month = MONTHS.get(m.group(1).lower()) or _month_prefix(m.group(1))
                    return date(int(m.group(3)), month, int(m.group(2))).isoformat()
                if order == "dmy":
                    return date(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1))).isoformat()
                if order == "ymd":
                    return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
                return date(int(m.group(3)), int(m.group(1)), int(m.group(2))).isoformat()
            except ValueError:
                continue
    return ""


def _month_prefix(abbr: str) -> int:
    abbr = abbr.lower()[:3]
    return next(i for name, i in MONTHS.items() if name.startswith(abbr))


def clean_page_text(raw: str) -> CleanText:
    lines = [_undouble(re.sub(r"[ \t\u00a0]+", " ", line).strip()) for line in raw.replace("\r\n", "\n").split("\n")]
    counts = Counter(_norm(line) for line in lines if line)
    prose = [bool(line) and _is_prose(line) for line in lines]
    first_prose = next((i for i, p in enumerate(prose) if p), len(lines))
    # Bullets before the body are kept only as a block of sentences ("Key takeaways"): a menu is not prose.
    header = [line for line in lines[:first_prose] if line]

    kept: list[str] = []
    for i in range(first_prose, len(lines)):
        line = lines[i]
        if not line:
            continue
        key = _norm(line)
        if key in END_MARKERS or any(key.startswith(m + " ") and _words(line) <= 4 for m in ("more from", "read more")):
            break
        if prose[i]:
            kept.append(line)
            continue
        if key in FURNITURE or counts[key] > 1 or _words(line) == 0 or _is_metadata(line):
            continue
        if BULLET.match(line) and _words(line) >= 4:
            kept.append(line)  # a list item of the article; menu items are one or two words
            continue
        # A heading: short, between prose, not a bullet of a menu.
        before = next((prose[j] for j in range(i - 1, -1, -1) if lines[j]), False)
        after = next((prose[j] for j in range(i + 1, len(lines)) if lines[j]), False)
        if before and after and not BULLET.match(line) and _words(line) <= 14:
            kept.append(line)

    title = _find_title(header, counts) or _first_words(kept[0] if kept else "", 120)
    # The dateline sits above the first full paragraph: a date further down is news, not the page's date.
    first_paragraph = next((i for i, line in enumerate(lines) if _words(line) >= 25), len(lines))
    when = find_date(lines[:first_paragraph])
    return CleanText(text="\n\n".join(kept), title=title, date=when)


def _undouble(line: str) -> str:
    doubled = DOUBLED.match(line)
    return doubled.group(1) if doubled else line


def _is_metadata(line: str) -> bool:
    """A dateline, reading time or copyright line."""
    if COPYRIGHT.search(line) or READ_TIME.search(line):
        return True
    return _words(line) <= 8 and bool(find_date([line]))


def _first_words(text: str, limit: int) -> str:
    text = BULLET.sub("", text).strip()
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _find_title(header: list[str], counts: Counter) -> str:
    candidates = []
    for line in header:
        body = BULLET.sub("", line).strip()
        if BULLET.match(line) or body.lower() in FURNITURE or not 4 <= len(body.split()) <= 25:
            continue
        if SENTENCE_END.search(body) or MONTH_DATE.search(body) or NUMERIC_DATE.search(body):
            continue
        candidates.append(re.sub(r"^(Reading|Title|Headline):\s*", "", body))
    if not candidates:
        return ""
    # A page repeats its own headline (in the tab, the breadcrumb, the header); menus repeat too but are short.
    return max(candidates, key=lambda c: (counts[_norm(c)], -candidates.index(c)))
