"""One place that decides whether to answer: answer, say the articles do not state it plainly
(quoting the closest sentence), or refuse.

The decision reads named `Signals` of one evidence-first answer: the model's own probabilities
(that no sentence answers; of the words of its answer), the sentence scores and their margin, how
much of the question's content and names the chosen sentences hold, how much of the model's answer
the sentences hold (`direct.Direct.grounded`), the parts asked that no sentence holds, whether a
yes/no verdict is stated. A logistic model over them, fitted on the dev splits of both domains
(QA dev and the RealTime QA dev weeks) by `assistant eval --calibrate`, gives the probability that
the first line is right (`confidence`); below its fitted threshold the answer is withheld. Its
coefficients are a small JSON file (never a pickle) whose contents are part of the settings'
fingerprint. Plain conditions come first (`holds_up`: the sentences hold the answer and it says
something the question does not); without a file they decide alone.

See Kamath, Jia & Liang, "Selective Question Answering under Domain Shift" (ACL 2020): a
calibrator over a model's own signals beats the model's raw probability out of domain.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from assistant.errors import ConfigError

ANSWER, NOT_STATED, REFUSE = "answer", "not_stated", "refuse"


@dataclass(frozen=True)
class Signals:
    """What the decision reads; None where the backend does not report it."""
    p_none: float | None  # the model's probability that no sentence answers
    answer_logprob: float | None  # mean log-probability of the tokens of its short answer
    answer_min_logprob: float | None  # the least likely of them
    p_verified: float | None  # asked again (verify_answers), its probability that the sentences state the answer
    best_score: float  # the best shown sentence's score (cosine + word overlap)
    margin: float  # best minus second-best shown sentence score
    chosen_score: float  # the best score among the sentences the first line rests on
    question_coverage: float  # share of the question's content words those sentences hold
    name_coverage: float  # share of the question's names they hold (1 when it names none)
    grounded: float  # share of the short answer's words, figures and names they hold
    missing_parts: int  # kinds asked (quantity, date, name) that no located span holds
    lacks_asked: float  # 1 when the first line lacks the quantity, date or name asked, or gives a share of another thing
    novelty: float  # share of the short answer's words, figures and names that the question does not already say
    verdict_dropped: float  # 1 when the model's yes/no was not the one the sentence states
    articles: int  # articles the first line rests on
    answer_words: int  # words of the model's short answer

    @classmethod
    def from_record(cls, record: dict) -> "Signals":
        """Signals as an answer records them (absent ones None)."""
        return cls(**{name: record.get(name) for name in FEATURE_NAMES})  # type: ignore[arg-type]

    def vector(self, names: Sequence[str], means: dict[str, float]) -> list[float]:
        values = asdict(self)
        return [float(values[n]) if values[n] is not None else means.get(n, 0.0) for n in names]


FEATURES = FEATURE_NAMES = tuple(f.name for f in fields(Signals))


@dataclass(frozen=True)
class Calibrator:
    """A fitted logistic model: p(first line right) = sigmoid(intercept + sum coef * (x - mean) / scale)."""
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # answer at or above this probability
    llm: str = ""  # the backend whose signals it was fitted on ("backend:model"); it decides for that one only
    about: str = ""  # what it was fitted on

    def confidence(self, signals: Signals) -> float:
        means = dict(zip(self.features, self.mean))
        x = signals.vector(self.features, means)
        z = self.intercept + sum(c * (v - m) / (s or 1.0) for c, v, m, s in zip(self.coef, x, self.mean, self.scale))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"


def load(path: Path | None, llm: str = "") -> Calibrator | None:
    """The decision model at `path`, when it was fitted for the backend `llm` (else None: the rule)."""
    if path is None:
        return None
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        calibrator = Calibrator(tuple(data["features"]), tuple(map(float, data["mean"])), tuple(map(float, data["scale"])),
                                tuple(map(float, data["coef"])), float(data["intercept"]), float(data["threshold"]),
                                str(data.get("llm", "")), str(data.get("about", "")))
    except FileNotFoundError:
        raise ConfigError(f"no decision model at {path}; fit one with assistant eval --calibrate, or set decision_model "
                          "to none") from None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ConfigError(f"{path}: not a decision model written by assistant eval --calibrate ({e})") from None
    unknown = set(calibrator.features) - set(FEATURES)
    if unknown or not (len(calibrator.features) == len(calibrator.mean) == len(calibrator.scale) == len(calibrator.coef)):
        raise ConfigError(f"{path}: a decision model for other signals ({', '.join(sorted(unknown)) or 'sizes differ'}); "
                          "fit it again with assistant eval --calibrate")
    return calibrator if not llm or calibrator.llm in ("", llm) else None


GROUNDED_ENOUGH = 0.5  # the sentences hold at least this much of the short answer


def holds_up(signals: Signals) -> bool:
    """The plain conditions of an answer: the sentences hold at least half of the short answer, and it
    says something the question does not. (Lacking the kind of thing asked, or a part of it, decided
    nothing more on the dev sets once these hold: they are left to the fitted model.)"""
    return signals.grounded >= GROUNDED_ENOUGH and signals.novelty > 0


def decide(signals: Signals, calibrator: Calibrator | None, answerable_threshold: float) -> tuple[str, float]:
    """(ANSWER | NOT_STATED | REFUSE, confidence that the first line is right). An answer is given when
    it holds up (`holds_up`) and, with a fitted model, its confidence reaches the model's threshold.
    Withheld answers say "not stated plainly" when some shown sentence is about the question (its
    score reaches `answerable_threshold`), and refuse otherwise."""
    confidence = calibrator.confidence(signals) if calibrator is not None else signals.grounded
    answer = holds_up(signals) and (calibrator is None or confidence >= calibrator.threshold)
    if answer:
        return ANSWER, confidence
    return (NOT_STATED if signals.best_score >= answerable_threshold else REFUSE), confidence


C = 0.3  # inverse regularisation: 5-fold cross-validation on both dev sets pooled, 0.05-1.0 alike (eval/README.md, the decision)


def fit(rows: Sequence[tuple[Signals, bool, bool]], llm: str, about: str = "", features: Sequence[str] = FEATURES,
        c: float = C) -> Calibrator:
    """A logistic model of "the first line is right" from dev rows (signals, right, answerable), and
    the threshold that maximises first lines right: an answer given right, or no answer where the
    articles hold none (withholding a wrong answer to a question they do answer gains nothing)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    names = list(features)
    raw = [[asdict(s)[n] for n in names] for s, _, _ in rows]
    means = [float(np.mean([r[i] for r in raw if r[i] is not None] or [0.0])) for i in range(len(names))]
    x = np.array([[v if v is not None else means[i] for i, v in enumerate(r)] for r in raw], dtype=float)
    y = np.array([bool(right) for _, right, _ in rows])
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((x - means) / scale, y)
    calibrator = Calibrator(tuple(names), tuple(means), tuple(float(v) for v in scale),
                            tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0]), 0.5, llm, about)
    probabilities = [calibrator.confidence(s) if holds_up(s) else -1.0 for s, _, _ in rows]  # what decide weighs
    threshold = best_threshold(probabilities, [bool(r) for _, r, _ in rows], [bool(a) for _, _, a in rows])
    return Calibrator(**{**asdict(calibrator), "threshold": threshold})


def best_threshold(confidence: Sequence[float], right: Sequence[bool], answerable: Sequence[bool]) -> float:
    """The threshold that maximises answers given right plus answers withheld where the articles hold
    none (ties: the lowest)."""
    candidates = sorted(set(confidence)) + [1.01]
    best, best_score = 0.0, -1
    for t in candidates:
        score = sum(r if p >= t else not a for p, r, a in zip(confidence, right, answerable))
        if score > best_score:
            best, best_score = t, score
    return best


def risk_coverage(confidence: Sequence[float], right: Sequence[bool]) -> list[tuple[float, float, float]]:
    """(threshold, share answered, accuracy of the answered) for each threshold, most confident first."""
    order = sorted(zip(confidence, right), key=lambda x: -x[0])
    out, hits = [], 0
    for i, (p, r) in enumerate(order, 1):
        hits += bool(r)
        out.append((p, i / len(order), hits / i))
    return out
