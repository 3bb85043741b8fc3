"""One settings object: defaults < ./assistant.toml < ASSISTANT_* environment < command-line flags.

Its fingerprints are stored with the index (what changes the vectors) and with every answer (everything).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from assistant.model_files import file_sha256

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent

INDEX_FORMAT_VERSION = 1


def _shipped_dir(name: str) -> Path:
    """prompts/ and articles/ sit beside the package in a checkout and inside it in a wheel."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else REPO_DIR / name


PROMPTS_DIR = _shipped_dir("prompts")
DECISION_MODEL = PACKAGE_DIR / "answer" / "decision-qwen2.5-coder-1.5b.json"  # fitted for the packaged model
BUNDLED_ARTICLES_DIR = _shipped_dir("articles")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", toml_file="assistant.toml", extra="forbid", populate_by_name=True
    )

    index_dir: Path = Field(Path("index"), validation_alias=AliasChoices("index_dir", "ASSISTANT_INDEX"))
    corpus: Path = BUNDLED_ARTICLES_DIR

    # Embedding and chunking: these change the vectors, so the index records them.
    embedder: str = "all-MiniLM-L6-v2"
    embed_batch_size: int = 32
    chunk_tokens: int = Field(64, ge=16, le=250)  # in the embedder's word pieces, below its 256 limit
    chunk_overlap_tokens: int = Field(16, ge=0)
    embed_titles: bool = True  # prefix each chunk with its document title when embedding
    # The dense index is exact below this many passages; at or above it, IVF with an HNSW coarse
    # quantizer (see vector_index.py), nprobe chosen for ivf_recall of the exact top 10. 0 = always exact.
    ivf_threshold: int = Field(200_000, ge=0)
    ivf_codec: Literal["flat", "sq8"] = "flat"  # how IVF stores vectors: whole (4 bytes a value) or 8-bit
    ivf_recall: float = Field(0.95, gt=0.0, le=1.0)
    # An update adds to the trained IVF index and removes from it; it is retrained (k-means, all
    # vectors re-added, nprobe chosen again) only once it holds this many times the vectors it was
    # trained on: its lists were sized for the training set, so they grow longer and each probe
    # scans more, and new topics fall into old lists.
    ivf_retrain_growth: float = Field(4.0, ge=1.0)

    # Retrieval.
    retrieval: Literal["hybrid", "dense", "bm25"] = "hybrid"
    k: int = Field(5, ge=1, le=50)
    candidates: int = Field(50, ge=1)  # per retriever, before fusion
    rrf_k: int = 60
    # Recency prior (retrieval.recency): an article dated d days from the day asked (today, or
    # --as-of) gains recency_weight x 2^(-d / half-life) first places; 0 = off. Chosen on the
    # RealTime QA dev weeks (answer in the 5 passages 0.592 -> 0.690; eval/HISTORY.md, stop 18).
    recency_half_life_days: float = Field(7.0, ge=0.0)
    recency_weight: float = Field(2.0, ge=0.0)
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    # RM3 pseudo-relevance feedback for BM25 (lexical.rm3_terms): the query expanded by the rm3_terms
    # likeliest terms of its rm3_docs best chunks, weighted rm3_query_weight : 1 - it. 0 terms = off.
    rm3_terms: int = Field(0, ge=0)
    rm3_docs: int = Field(10, ge=1)
    rm3_query_weight: float = Field(0.5, ge=0.0, le=1.0)
    mmr_lambda: float = Field(0.75, ge=0.0, le=1.0)  # 1.0 turns diversity off
    max_per_document: int = Field(3, ge=0)  # passages from one article in the top k (0 = no limit)
    window_sentences: int = Field(2, ge=0)  # sentences of context shown around each retrieved chunk

    # Answering.
    llm: str = "auto"  # auto = local when its model is installed, else extractive
    # select (evidence-first), free (prose), extractive (no model); auto = the backend's own (answer/strategies.py)
    strategy: Literal["auto", "select", "free", "extractive"] = "auto"
    prompt: str = "answer"  # the free strategy's template
    select_prompt: str = "select"  # the select strategy's template
    select_max_tokens: int = Field(120, ge=16)
    select_max_evidence: int = Field(4, ge=1)  # sentences the model may choose
    select_top_logprobs: int = Field(10, ge=0)  # alternatives read per step, for p_none (0 = not read)
    # Evidence-first answers can be put to the model a second time (strategies.verify): the probability
    # it gives that the sentences state this answer to this question, a signal of the decision (p_verified).
    # Off by default: on dev the 1.5B model's p(yes) hardly tells right answers from answers to
    # unanswerable questions (medians 0.63 / 0.61, ROC AUC 0.68; eval/HISTORY.md, stop 17).
    verify_answers: bool = False
    verify_prompt: str = "verify"
    # The decision to answer (answer/decision.py): a logistic model over the answer's signals, fitted by
    # `assistant eval --calibrate`; None = answer when the short answer is in the sentences.
    decision_model: Path | None = DECISION_MODEL
    # Also quote other articles' best sentences this close to the best shown sentence (0 = off) ...
    select_other_articles: float = Field(0.0, ge=0.0)
    # ... and the best shown sentence not yet quoted, when this close to the best (0 = off). Neither changes the
    # first line, only the quotes under it. Off: QA dev (local, replayed) first line 0.497 either way, citation
    # precision 0.643 (0.2 / 0.1) -> 0.854, whole answer 0.647 -> 0.590, 90 -> 56 words (eval/HISTORY.md, stop 34).
    select_best_margin: float = Field(0.0, ge=0.0)
    temperature: float = 0.0
    max_tokens: int = 400
    # Replies to deterministic requests (temperature 0) kept in this JSON-lines file and reused
    # (llms/cache.py); None = none kept. With completion_replay no model is loaded: a request the
    # file lacks gets an empty reply. Neither changes an answer the model would give.
    completion_cache: Path | None = None
    completion_replay: bool = False
    extractive_threshold: float = 0.45
    # Language models are not asked when no passage sentence matches the question this well (0 = always ask).
    answerable_threshold: float = 0.45
    extractive_sentences: int = 3
    # The checks on every answer (answer/: strategies, support, citations, disagreements, grounding).
    sentence_min_words: int = 5  # shorter passage "sentences" (headings, bylines) are not ranked or quoted
    sentence_overlap_bonus: float = 0.25  # sentence score = cosine + this x share of the question's words it holds
    sentence_overlap_idf: bool = False  # ... each word weighted by its rarity in the collection (BM25's idf)
    # Choosing the sentences a model is shown: each counts this / n more under the n-th passage (0 = off).
    sentence_passage_prior: float = Field(0.0, ge=0.0)
    support_min_overlap: float = 0.5  # a passage holds a sentence: its figures, names and this share of its words
    # What a passage says against a claim (answer/claims.py): a claim's clause is read against the passage's sentences that
    # state at least claim_align_share of its terms (a negation there the other way is flagged) ...
    claim_align_share: float = Field(0.75, ge=0.0, le=1.0)
    # ... a figure or name of the claim is flagged where the passage,
    # between the same claim_slot_neighbours words either side (content words, names, figures), has another one.
    claim_slot_neighbours: int = Field(2, ge=1)
    # A text answers a yes/no question "no" holding this share of its terms with one of them negated the other way;
    # "yes" only holding all of them (claims.verdict).
    claim_verdict_cover: float = Field(0.75, ge=0.0, le=1.0)
    quote_min_overlap: float = 0.25  # a citation's quote below this share of the claim's words is "weak support"
    recite_margin: float = 0.2  # a claim copied from another passage matches it this much better than the cited one
    recite_min: float = 0.5  # ... and that passage holds at least this share of it
    share_match: float = 0.45  # cosine of "share of X" asked and "N% of Y" answered below this: another share
    differ_margin: float = 0.1  # another article's sentence within this of the best sentence score is compared
    differ_same_topic: float = 0.5  # ... and quoted when its cosine to the answer reaches this
    extractive_margin: float = 0.12  # quote sentences scoring within this of the best one
    prompt_sentences: int = Field(12, ge=0)  # show a language model only this many best sentences (0 = whole passages)

    # OpenAI-compatible servers (OPENAI_BASE_URL / OPENAI_API_KEY are honoured too).
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_context_window: int = 8192
    timeout_s: float = 60.0
    max_retries: int = 3

    # In-process llama.cpp.
    gguf_path: Path | None = None  # default: the packaged Qwen2.5-Coder-1.5B-Instruct
    n_ctx: int = 4096
    n_threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    chat_format: str | None = None  # only for GGUFs that carry no chat template
    # JSON replies (select): check this many tokens drafted by prompt lookup in one decode (0 = off). Meant to
    # leave the replies as they are; batched sums differ in their last bits and change 3 of 20 Qwen dev replies.
    draft_tokens: int = Field(0, ge=0, le=32)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def index_config(self) -> dict:
        """Everything that changes the stored vectors and chunks. An embedder given as a local
        folder is known by its weights' contents too, so a model retrained in place makes the index
        built with it stale (a packaged model is known by its name: its package pins the weights)."""
        config: dict = {
            "format_version": INDEX_FORMAT_VERSION,
            "embedder": self.embedder,
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap_tokens": self.chunk_overlap_tokens,
            "embed_titles": self.embed_titles,
        }
        if weights := folder_weights(self.embedder):
            config["embedder_weights"] = weights
        return config

    def index_fingerprint(self) -> str:
        return _digest(self.index_config())

    def fingerprint(self) -> str:
        """Everything that can change an answer, secrets and paths left out: the settings, and the
        contents of the prompt templates and of the decision model they name."""
        data = self.model_dump(mode="json", exclude={"openai_api_key", "index_dir", "corpus", "n_threads", "completion_cache",
                                                        "completion_replay", "decision_model"})
        files = [Path(name) if name.endswith(".txt") else PROMPTS_DIR / f"{name}.txt"
                 for name in (self.prompt, self.select_prompt, self.verify_prompt)]
        if self.decision_model:
            files.append(Path(self.decision_model))
        data["files"] = {path.name: _file_digest(path) for path in files}
        return _digest(data)


def default(name: str):
    """A setting's default: the modules that take a threshold as a parameter default to this."""
    return Settings.model_fields[name].default


def _file_digest(path: Path) -> str | None:
    try:
        return file_sha256(path)[:16]
    except OSError:
        return None


WEIGHT_FILES = (".safetensors", ".bin", ".onnx", ".pt")
_weights_seen: dict[tuple, str] = {}  # each weight file's (resolved path, size, mtime) -> digest


def folder_weights(name: str) -> str | None:
    """The sha256 of a local model folder's weight files (by name and content, one digest), or None
    when `name` is not a folder holding any. Hashed once a process per unchanged set of files."""
    folder = Path(name).expanduser()
    if not name or not folder.is_dir():
        return None
    files = sorted(p for p in folder.rglob("*") if p.suffix in WEIGHT_FILES and p.is_file())
    if not files:
        return None
    key = tuple((str(p.resolve()), (stat := p.stat()).st_size, stat.st_mtime_ns) for p in files)
    if key not in _weights_seen:
        _weights_seen[key] = _digest({str(p.relative_to(folder)): file_sha256(p) for p in files})
    return _weights_seen[key]


def _digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
