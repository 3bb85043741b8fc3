"""No language model: answer with the passage sentences closest to the question, each cited.

Sentences are scored by cosine similarity to the question (the index's embedding model) plus a
small bonus for shared content words; below `threshold` the backend refuses."""

from __future__ import annotations

import numpy as np

from assistant.chunking import sentence_spans
from assistant.lexical import tokenize
from assistant.llms.base import Completion, OnText, Request
from assistant.prompts import REFUSAL
from assistant.settings import Settings


class ExtractiveBackend:
    name = "extractive"

    def __init__(self, embedder, threshold: float = 0.45, max_sentences: int = 3):
        self.embedder = embedder
        self.threshold = threshold
        self.max_sentences = max_sentences

    @classmethod
    def from_settings(cls, settings: Settings) -> "ExtractiveBackend":
        from assistant.embedders import load_embedder

        return cls(load_embedder(settings.embedder, settings.embed_batch_size),
                   settings.extractive_threshold, settings.extractive_sentences)

    def score(self, question: str, sentences: list[str]) -> np.ndarray:
        vectors = self.embedder.embed([question, *sentences])
        cosine = vectors[1:] @ vectors[0]
        q_terms = set(tokenize(question))
        overlap = np.array([len(q_terms & set(tokenize(s))) / (len(q_terms) or 1) for s in sentences])
        return cosine + 0.25 * overlap

    def ranked(self, question: str, passages) -> list[tuple[float, int, int, str]]:
        """(score, position, passage number, sentence) of every passage sentence, best first; the
        position keeps the passages' own order for sentences shown together."""
        candidates = _sentences(passages)
        if not candidates:
            return []
        scores = self.score(question, [s for _, s in candidates])
        return sorted(((float(scores[i]), i, n, s) for i, (n, s) in enumerate(candidates)), key=lambda x: (-x[0], x[1]))

    def generate(self, request: Request, on_text: OnText | None = None) -> Completion:
        candidates = _sentences(request.passages)
        text = REFUSAL
        if candidates:
            scores = self.score(request.question, [s for _, s in candidates])
            order = np.argsort(-scores)
            best = float(scores[order[0]])
            if best >= self.threshold:
                picked: list[tuple[int, str]] = []
                for i in order:
                    if len(picked) >= self.max_sentences or scores[i] < max(self.threshold, best - 0.12):
                        break
                    n, sentence = candidates[i]
                    if any(sentence == s for _, s in picked):
                        continue  # overlapping chunks repeat sentences
                    picked.append((n, sentence))
                text = " ".join(f"{s} [{n}]" for n, s in picked)
        if on_text:
            on_text(text)
        return Completion(text=text)


def _sentences(passages) -> list[tuple[int, str]]:
    out = []
    for n, text in passages:
        for s, e in sentence_spans(text):
            sentence = text[s:e].strip()
            if len(sentence.split()) >= 5:
                out.append((n, sentence))
    return out
