"""Figures and dates read out of text into values that compare however they are written:
"90%", "90 percent" and "nearly 90 per cent" are one share; "$1.5 billion" and "1,500 million
dollars" one amount; "seven" and "7" one count; "June 10, 2025", "10 June 2025" and "Tuesday" in an
article of 10 June 2025 one date. Ranges ("60-70%") hold each value between their ends."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_SCALE = {"thousand": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9,
          "trillion": 1e12, "tn": 1e12}

_NUM = r"\d+(?:[.,]\d+)*"
_PERCENT = re.compile(
    rf"(?P<a>{_NUM})(?:\s*%|\s*(?:per ?cent|percent))?\s*(?:-|–|to)\s*(?P<b>{_NUM})\s*(?:%|per ?cent\b|percent\b)"
    rf"|(?P<x>{_NUM})\s*(?:%|per ?cent\b|percent\b)"
    r"|\b(?:nearly|almost|virtually|practically) (?P<all>all|none)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    rf"(?P<cur>US\$|\$|€|£|¥)\s?(?P<n>{_NUM})\s*(?P<scale>thousand|million|billion|trillion|mn|bn|tn|m|b)?\b"
    rf"|(?P<n2>{_NUM})\s*(?P<scale2>thousand|million|billion|trillion)?\s*(?P<cur2>dollars|yuan|euros|pounds|yen)\b",
    re.IGNORECASE,
)
_COUNT = re.compile(rf"\b(?P<n>{_NUM}|{'|'.join(_NUMBER_WORDS)})\s+(?P<noun>[a-z][a-z-]+)", re.IGNORECASE)
_MONTH = "|".join(MONTHS)
_DATE = re.compile(
    rf"\b(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MONTH})(?:,?\s+(?P<y1>(?:19|20)\d\d))?\b"
    rf"|\b(?P<m2>{_MONTH})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y2>(?:19|20)\d\d))?"
    rf"|\b(?P<m3>{_MONTH})(?:\s+(?:of\s+)?(?P<y3>(?:19|20)\d\d))?\b"
    rf"|\b(?P<wd>{'|'.join(WEEKDAYS)})\b"
    r"|\b(?P<y4>(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_NOT_COUNTED = {"percent", "per", "cent", "million", "billion", "trillion", "thousand", "dollars", "yuan", "euros",
                "pounds", "yen", "am", "pm"} | set(MONTHS)


@dataclass(frozen=True)
class Value:
    kind: str  # share | money | count | date
    low: float | tuple = 0.0  # a date is (year, month, day), each 0 when not stated
    high: float | tuple = 0.0
    unit: str = ""  # money: the currency; count: the thing counted
    text: str = ""  # as written

    def same(self, other: "Value") -> bool:
        if self.kind != other.kind:
            return False
        if self.kind == "date":
            return all(a == b or not a or not b for a, b in zip(self.low, other.low))  # type: ignore[arg-type]
        if self.kind == "money" and self.unit and other.unit and self.unit != other.unit:
            return False
        tolerance = 0.5 if self.kind == "share" else 1e-9
        return self.low - tolerance <= other.high and other.low - tolerance <= self.high  # type: ignore[operator]


def _number(text: str) -> float:
    text = text.lower()
    if text in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[text])
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    return float(text.replace(",", "."))


def shares(text: str) -> list[Value]:
    out = []
    for m in _PERCENT.finditer(text):
        if m.group("all"):
            v = 100.0 if m.group("all").lower() == "all" else 0.0
            out.append(Value("share", v - 5 if v else v, v if v else v + 5, text=m.group(0)))
        elif m.group("a"):
            out.append(Value("share", _number(m.group("a")), _number(m.group("b")), text=m.group(0)))
        else:
            v = _number(m.group("x"))
            out.append(Value("share", v, v, text=m.group(0)))
    return out


def amounts(text: str) -> list[Value]:
    out = []
    for m in _MONEY.finditer(text):
        number, scale, currency = (m.group("n"), m.group("scale"), m.group("cur")) if m.group("n") else (
            m.group("n2"), m.group("scale2"), m.group("cur2"))
        value = _number(number) * _SCALE.get((scale or "").lower(), 1.0)
        unit = {"$": "usd", "us$": "usd", "dollars": "usd", "€": "eur", "euros": "eur", "£": "gbp",
                "pounds": "gbp", "¥": "cny", "yuan": "cny", "yen": "jpy"}.get(currency.lower(), currency.lower())
        out.append(Value("money", value, value, unit, m.group(0)))
    return out


def counts(text: str) -> list[Value]:
    out = []
    for m in _COUNT.finditer(text):
        noun = m.group("noun").lower()
        if noun in _NOT_COUNTED or re.fullmatch(r"(19|20)\d\d", m.group("n")):
            continue
        v = _number(m.group("n"))
        out.append(Value("count", v, v, noun[:-3] + "y" if noun.endswith("ies") else noun.rstrip("s"), m.group(0)))
    return out


def dates(text: str, reference: str = "") -> list[Value]:
    """Dates as (year, month, day); a weekday is resolved to the nearest such day of the article's
    date `reference` (ISO), the year of a date without one is the article's."""
    ref = _parse_iso(reference)
    out = []
    for m in _DATE.finditer(text):
        g = m.groupdict()
        if g["wd"]:
            if not ref:
                continue
            delta = (WEEKDAYS.index(g["wd"].lower()) - ref.weekday()) % 7
            when = ref + dt.timedelta(days=delta if delta <= 3 else delta - 7)
            out.append(Value("date", (when.year, when.month, when.day), (when.year, when.month, when.day), text=m.group(0)))
            continue
        month = g["m1"] or g["m2"] or g["m3"]
        day = int(g["d1"] or g["d2"] or 0)
        year = int(g["y1"] or g["y2"] or g["y3"] or g["y4"] or 0)
        if month is None and not year:
            continue
        if month and not year and ref:
            year = ref.year
        key = (year, MONTHS.index(month.lower()) + 1 if month else 0, day)
        out.append(Value("date", key, key, text=m.group(0)))
    return out


def _parse_iso(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def quantities(text: str) -> list[Value]:
    """Shares, then amounts, then counts: a figure read as one kind is not read again as another."""
    found = shares(text) + amounts(text)
    taken = " ".join(v.text for v in found)
    return found + [c for c in counts(text) if c.text.split()[0] not in taken]


def differ(stated: list[Value], given: list[Value]) -> bool:
    """`given` states values of a kind that `stated` has (counts: of the same thing, "two leaders" is
    not a count of minutes), and none of them equals a stated one."""
    kinds = {_measure(v) for v in stated}
    relevant = [g for g in given if _measure(g) in kinds]
    return bool(relevant) and not any(g.same(s) for g in relevant for s in stated)


def _measure(value: Value) -> tuple[str, str]:
    """What a value measures: its kind, and for a count the thing counted."""
    return value.kind, value.unit if value.kind == "count" else ""
