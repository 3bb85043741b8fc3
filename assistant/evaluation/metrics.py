"""Scores for one prediction, and their summaries. Pure functions: no I/O, no models.

The records scored are plain dicts, as stored in an eval's JSON:

    passage    {"doc_id", "chunk_id", "start", "end", "text"}   text and span as shown to the model
    evidence   {"doc_id", "quote", "start", "end"}              span in the indexed document, -1 if absent
    citation   {"n", "doc_id", "chunk_id", "quote"}             n = the passage number the model cited
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence

from assistant.answer.citations import MARKER
from assistant.evaluation.oracle import MISSES
from assistant.text import normalise

TYPES = ("fact", "number", "list", "multi_doc", "conflict", "unanswerable")
SPAN_OVERLAP = 0.8  # share of a quote's characters a passage's span must cover to hold it

# Per-item score → the summary metric that averages it.
MEANS = {
    "direct_correct": "direct_accuracy",
    "correct": "accuracy",
    "verdict_correct": "verdict_accuracy",
    "answer_in_corpus": "answer_in_corpus",
    "evidence_hit": "evidence_hit",
    "evidence_hit_any": "evidence_hit_any",
    "answer_in_passages": "answer_in_passages",
    "shown_evidence_hit": "shown_evidence_hit",
    "shown_evidence_hit_any": "shown_evidence_hit_any",
    "answer_in_sentences": "answer_in_sentences",
    "source_recall": "source_recall",
    "mrr": "mrr",
    "ndcg10": "ndcg10",
    "citation_precision": "citation_precision",
    "citation_recall": "citation_recall",
    "claim_support": "claim_support",
    "both_sourced": "conflict_both_sourced",
}

# -- answers -------------------------------------------------------------------------------------

def _alternatives(element: str | Sequence[str]) -> list[str]:
    return [element] if isinstance(element, str) else list(element)


def says(normalised_text: str, phrase: str) -> bool:
    """The phrase occurs in the (normalised) text as whole words: "May" is not in "Mayor", nor
    "90" in "1990"."""
    key = normalise(phrase)
    return bool(key) and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", normalised_text) is not None


def contains_answer(answer: str, must_include: Sequence[str | Sequence[str]]) -> bool:
    """Every element of must_include is matched, as whole words, by one of its alternatives
    (case-insensitive); citation markers are not words of the answer."""
    said = normalise(MARKER.sub(" ", answer))
    return all(any(says(said, alt) for alt in _alternatives(el)) for el in must_include)


def direct_answer(answer: str) -> str:
    """What an answer says before what it quotes: its first line (the select strategy's short answer,
    above the sentences it rests on). Scored alone, it cannot be right by a quote that names the
    answer under a direct answer naming something else."""
    return answer.strip().split("\n", 1)[0]


DIRECT_WORDS = 50  # a first line is a sentence or two ...


def direct_word_limit(must_include: Sequence) -> int:
    """... at most DIRECT_WORDS words, and as long as the list when the answer is one (the longest
    alternative of each element counted once)."""
    return DIRECT_WORDS + sum(max(word_count(a) for a in _alternatives(el)) for el in must_include)


_VERDICT = re.compile(r"^\W*(yes|no|true|false)\b", re.IGNORECASE)


def verdict_of(answer: str) -> str:
    """"yes" or "no" when the answer opens with one (True/False read as yes/no); "" otherwise."""
    match = _VERDICT.match(answer)
    return "" if not match else {"true": "yes", "false": "no"}.get(match.group(1).lower(), match.group(1).lower())


def is_correct(answer: str, refused: bool, must_include: Sequence, answerable: bool, verdict: str = "") -> bool:
    """Answerable: not refused, contains the answer, and (a yes/no item) not the opposite verdict.
    Unanswerable: refused."""
    if not answerable:
        return refused
    said = verdict_of(answer)
    return not refused and contains_answer(answer, must_include) and not (verdict and said and said != verdict)


def is_direct_correct(answer: str, refused: bool, must_include: Sequence, answerable: bool, verdict: str = "") -> bool:
    """The first line alone is right: it holds the answer within the length of one (`direct_word_limit`)
    and, for a yes/no item, opens with the right verdict."""
    line = direct_answer(answer)
    if not answerable:
        return refused
    if verdict and verdict_of(line) != verdict:
        return False
    return word_count(line) <= direct_word_limit(must_include) and is_correct(line, refused, must_include, True)


def picks_choice(answer: str, choices: Sequence[str], gold: Iterable[int]) -> bool:
    """Multiple choice without showing the choices: the answer names a gold choice and no other, as
    whole words. Gold mentions are masked first, so a wrong choice inside the gold one ("Bills" in
    "Buffalo Bills") does not count against it. Citation markers are not words of the answer."""
    said = normalise(MARKER.sub(" ", answer))
    gold = set(gold)
    golds = [normalise(choices[i]) for i in gold if normalise(choices[i])]
    if not any(says(said, g) for g in golds):
        return False
    for g in golds:
        said = re.sub(rf"(?<!\w){re.escape(g)}(?!\w)", " | ", said)
    others = [normalise(c) for i, c in enumerate(choices) if i not in gold]
    return not any(o and says(said, o) for o in others)


def word_count(answer: str) -> int:
    """Words of the answer: tokens holding a letter or digit, citation markers left out."""
    return sum(any(ch.isalnum() for ch in token) for token in MARKER.sub(" ", answer).split())


# -- retrieval -----------------------------------------------------------------------------------

def locate_quote(quote: str, text: str) -> tuple[int, int]:
    """The quote's character span in `text`, tolerant of whitespace differences (cleaning turns
    non-breaking spaces and line breaks into plain spaces); (-1, -1) when absent."""
    at = text.find(quote)
    if at >= 0:
        return at, at + len(quote)
    words = quote.split()
    match = re.search(r"\s+".join(map(re.escape, words)), text) if words else None
    return (match.start(), match.end()) if match else (-1, -1)


def passage_holds(passage: dict, evidence: dict) -> bool:
    """The quote is in the passage's text, or most of it lies in the passage's span of the same
    document (a quote cut in two by a chunk boundary)."""
    if normalise(evidence["quote"]) in normalise(passage["text"]):
        return True
    start, end = evidence.get("start", -1), evidence.get("end", -1)
    if passage.get("doc_id") != evidence.get("doc_id") or start < 0 or end <= start:
        return False
    covered = min(end, passage["end"]) - max(start, passage["start"])
    return covered >= SPAN_OVERLAP * (end - start)


def evidence_found(passages: Sequence[dict], evidence: Sequence[dict]) -> list[frozenset[int]]:
    """For each passage, best first, the indices of the evidence quotes it holds."""
    return [frozenset(i for i, ev in enumerate(evidence) if passage_holds(p, ev)) for p in passages]


def evidence_hit(found: Sequence[frozenset[int]], n_evidence: int) -> bool | None:
    """Every quote is held by some passage; None when there is no evidence."""
    if not n_evidence:
        return None
    return len(frozenset().union(*found)) == n_evidence


def evidence_hit_any(found: Sequence[frozenset[int]], n_evidence: int) -> bool | None:
    if not n_evidence:
        return None
    return any(found)


def source_recall(passages: Sequence[dict], sources: Sequence[str]) -> float | None:
    """Share of the gold documents that some passage comes from."""
    gold = set(sources)
    if not gold:
        return None
    return len(gold & {p["doc_id"] for p in passages}) / len(gold)


def reciprocal_rank(relevant: Sequence) -> float:
    """1 / rank of the first relevant passage (truthy), 0 when none is; its mean is the MRR."""
    return next((1 / rank for rank, rel in enumerate(relevant, 1) if rel), 0.0)


def ndcg(found: Sequence[frozenset[int]], n_evidence: int, depth: int = 10) -> float | None:
    """nDCG@depth with binary gain: a passage earns it when it holds a quote no higher passage held
    (overlapping chunks repeating one quote earn it once). The ideal ranking has one passage per
    quote at the top."""
    if not n_evidence:
        return None
    seen: set[int] = set()
    dcg = 0.0
    for rank, quotes in enumerate(found[:depth], 1):
        if quotes - seen:
            dcg += 1 / math.log2(rank + 1)
        seen |= quotes
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(n_evidence, depth) + 1))
    return dcg / ideal


# -- citations -----------------------------------------------------------------------------------

def citation_precision(citations: Sequence[dict], sources: Sequence[str]) -> float | None:
    """Share of the cited documents that are gold sources; None without citations or sources."""
    cited = {c["doc_id"] for c in citations}
    if not cited or not sources:
        return None
    return len(cited & set(sources)) / len(cited)


def citation_recall(citations: Sequence[dict], sources: Sequence[str]) -> float | None:
    """Share of the gold sources cited; None without sources."""
    gold = set(sources)
    if not gold:
        return None
    return len(gold & {c["doc_id"] for c in citations}) / len(gold)


_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_STOP = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been being it its this that these those "
    "which who whom what when where why how than then so such not no nor also has have had do does did will would "
    "can could may might must shall should about into over under after before between during while there their they "
    "them he she his her we our you your i said says say according".split())


def _stem(word: str) -> str:
    for suffix in ("ies", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> set[str]:
    return {_stem(w) for w in _TOKEN.findall(normalise(text)) if w not in _STOP}


def _figures(text: str) -> set[str]:
    return {f.replace(",", "").rstrip(".").lstrip("0") or "0" for f in re.findall(r"\d[\d,.]*", text)}


def _capitalised(text: str) -> set[str]:
    words = re.findall(r"[A-Za-z][\w-]*", text)
    return {w.lower() for w in words[1:] if w[0].isupper()}


def answer_claims(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, passage numbers it cites) of each sentence of an answer, split
    and given its markers as the assistant does (how a marker is attached is not what is measured;
    whether the passage holds the sentence is)."""
    from assistant.answer.citations import claims

    return [(text.strip(" \t\"“”"), cited) for text, cited, _ in claims(answer)]


def claim_support(answer: str, refused: bool, passages: Sequence[dict], min_overlap: float = 0.6) -> float | None:
    """Share of the answer's sentences that the passages they cite support: every figure and every
    capitalised word of the sentence in them, and at least `min_overlap` of its content words.
    Measured on the answer text and the passages alone (its own tokenizer, not the assistant's), so
    a sentence citing nothing, or citing a passage that does not say it, counts against. None for a
    refusal."""
    if refused:
        return None
    claims = [(text, cited) for text, cited in answer_claims(answer) if _terms(text)]
    if not claims:
        return None
    supported = 0
    for text, cited in claims:
        body = " ".join(passages[n - 1]["text"] for n in set(cited) if 0 < n <= len(passages))
        if not body:
            continue
        said, terms = normalise(body), _terms(text)
        words_ok = all(w in _terms(body) or w in said for w in _capitalised(text))
        figures_ok = _figures(text) <= _figures(body)
        supported += words_ok and figures_ok and len(terms & _terms(body)) >= min_overlap * len(terms)
    return supported / len(claims)


# -- per item ------------------------------------------------------------------------------------

def retrieval_scores(shown: Sequence[dict], ranking: Sequence[dict], evidence: Sequence[dict],
                     sources: Sequence[str]) -> dict:
    """@k scores over the passages shown to the model; MRR and nDCG over a deeper ranking."""
    at_k, deep = evidence_found(shown, evidence), evidence_found(ranking, evidence)
    return {
        "evidence_hit": evidence_hit(at_k, len(evidence)),
        "evidence_hit_any": evidence_hit_any(at_k, len(evidence)),
        "source_recall": source_recall(shown, sources),
        "mrr": reciprocal_rank(deep) if evidence else None,
        "ndcg10": ndcg(deep, len(evidence), 10),
    }


def sentence_scores(sentences: Sequence[dict], evidence: Sequence[dict]) -> dict:
    """Whether the sentences shown to the model hold every evidence quote, and at least one; a
    sentence is scored as a passage is (its text and its span in the document)."""
    found = evidence_found(sentences, evidence)
    return {"shown_evidence_hit": evidence_hit(found, len(evidence)),
            "shown_evidence_hit_any": evidence_hit_any(found, len(evidence))}


def answer_scores(prediction: dict, must_include: Sequence, sources: Sequence[str], answerable: bool,
                  kind: str = "", verdict: str = "") -> dict:
    citations = prediction["citations"]
    answer, refused = prediction["answer"], prediction["refused"]
    correct = is_correct(answer, refused, must_include, answerable, verdict)
    recall = citation_recall(citations, sources) if answerable else None
    line = (prediction.get("selection") or {}).get("first_line")
    return {
        "direct_correct": is_direct_correct(answer, refused, must_include, answerable, verdict),
        # the first line the decision weighed, right had it been given (what the decision is fitted to)
        "line_correct": (answerable and is_direct_correct(line, False, must_include, True, verdict)) if line is not None else None,
        "correct": correct,
        "verdict_correct": verdict_of(direct_answer(answer)) == verdict if verdict else None,
        "direct_words": None if refused else word_count(direct_answer(answer)),
        # where the articles disagree: both values named, and every article that gives one cited
        "both_sourced": bool(correct and recall == 1.0) if kind == "conflict" else None,
        "refused": prediction["refused"],
        "citation_precision": citation_precision(citations, sources) if answerable else None,
        "citation_recall": recall,
        "claim_support": claim_support(prediction["answer"], prediction["refused"], prediction["passages"]),
        "answer_words": word_count(prediction["answer"]),
    }


# -- summaries -----------------------------------------------------------------------------------

def percentile(values: Iterable[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Iterable) -> float | None:
    """Mean of the values that are not None (booleans count 0/1); None when there are none."""
    xs = [float(v) for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def _answerable(item: dict) -> bool:
    """An item says whether it can be answered; else its type does ("unanswerable" cannot)."""
    return item.get("answerable", item["type"] != "unanswerable")


def _summary(items: Sequence[dict], present: set[str], present_types: set[str]) -> dict:
    scores = [it["scores"] for it in items]
    out: dict = {"n": len(items)}
    for key, name in MEANS.items():
        if key in present:
            out[name] = mean(s.get(key) for s in scores)
    if "refused" in present:
        unanswerable = [s.get("refused") for it, s in zip(items, scores) if not _answerable(it)]
        answerable = [s.get("refused") for it, s in zip(items, scores) if _answerable(it)]
        if any(not _answerable(it) for it in items) or "unanswerable" in present_types:
            out["refusal_recall"] = mean(unanswerable)
        out["false_refusal_rate"] = mean(answerable)
    if any("oracle" in it for it in items):  # what the pipeline loses (oracle.py)
        out["oracle_direct_accuracy"] = mean(it["oracle"]["direct_correct"] for it in items if "oracle" in it)
        for name, miss in zip(("misses_not_shown", "misses_checks", "misses_model"), MISSES):
            out[name] = sum(it.get("miss") == miss for it in items)
    for key in ("direct_words", "answer_words"):
        if key in present:
            words = [s[key] for s in scores if s.get(key) is not None]
            out[f"{key}_median"] = statistics.median(words) if words else None
    for stage in ("retrieval", "sentences", "total"):
        times = [it["timings_ms"][stage] for it in items if stage in it.get("timings_ms", {})]
        if times:
            out[f"{stage}_ms_p50"] = percentile(times, 50)
            out[f"{stage}_ms_p95"] = percentile(times, 95)
    return out


def summarise(items: Sequence[dict]) -> dict:
    """{"overall": metrics, "by_type": {type: metrics}}. Each item is {"type", "scores",
    "timings_ms"}; a metric is given when some item of the run has its score (refusal recall: when
    the run has unanswerable items), and is None for a group where it does not apply (refusal recall
    of `fact` items)."""
    present = {k for it in items for k, v in it["scores"].items() if v is not None}
    present_types = {it["type"] for it in items}
    types = [t for t in TYPES if t in present_types] + sorted(present_types - set(TYPES))
    return {
        "overall": _summary(items, present, present_types),
        "by_type": {t: _summary([it for it in items if it["type"] == t], present, present_types) for t in types},
    }
