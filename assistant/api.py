"""The Python API: open an index once, ask many questions, stream answers, (re)build an index.

    import assistant
    from assistant import Assistant

    assistant.index(["articles"], "index")             # ingest → chunk → embed → store
    bot = Assistant.open("index", llm="extractive")
    answer = bot.ask("Which rare earth metals did China stop exporting?", k=5)
    for piece in bot.stream("And which countries depend on them?"):
        ...                                              # text pieces, then the checked Answer

The CLI's `ask`/`chat` and `assistant serve` are built on this class; its answering is
`pipeline.Assistant.ask`, unchanged.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from assistant.pipeline import Assistant as _Pipeline
from assistant.pipeline import Turn
from assistant.readers import page_of
from assistant.retrieval import Filters, Retriever
from assistant.settings import Settings
from assistant.store import BuildReport, CURRENT, load_index
from assistant.types import Answer

__all__ = ["Assistant", "Filters", "index", "as_filters"]

FiltersLike = Filters | Mapping[str, Any] | None


def as_filters(filters: FiltersLike) -> Filters:
    """A `Filters`, or a mapping such as {"since": "2025-06-08", "until": "...", "sources": ["002_"]}
    (dates in any common form; "source" for one substring; "as_of": the day asked, for the recency prior)."""
    if filters is None:
        return Filters()
    if isinstance(filters, Filters):
        return filters
    unknown = set(filters) - {"since", "until", "sources", "source", "as_of"}
    if unknown:
        from assistant.errors import ConfigError

        raise ConfigError(f"unknown filter {sorted(unknown)[0]!r}; use since, until, sources or as_of")
    sources = filters.get("sources") or filters.get("source") or ()
    if isinstance(sources, str):
        sources = [sources]
    return Filters.parse(filters.get("since"), filters.get("until"), list(sources), filters.get("as_of"))


def _settings(index_dir: str | Path | None, llm: str | None, overrides: Mapping[str, Any]) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if index_dir is not None:
        values["index_dir"] = Path(index_dir)
    if llm is not None:
        values["llm"] = llm
    return Settings(**values)


class Assistant(_Pipeline):
    """A loaded index, embedder, retriever and language model. Thread use: one `ask` at a time."""

    @classmethod
    def open(
        cls, index_dir: str | Path | None = None, *, llm: str | object | None = None, **settings: Any
    ) -> "Assistant":
        """Load the index in `index_dir` (default: settings' `./index`). `llm` is a backend name
        ("local", "openai", "extractive", a plugin's) or an object with `generate` (see
        `assistant.llms.base.LLM`); other keyword arguments are `Settings` fields (k=8, retrieval="bm25",
        gguf_path=..., openai_base_url=...). Raises `assistant.errors.AssistantError` subclasses
        with a one-line message (no index: `IndexMissingError`)."""
        if isinstance(llm, str) or llm is None:
            return cls(_settings(index_dir, llm, settings))
        return cls(_settings(index_dir, None, settings), llm=llm)

    def ask(  # type: ignore[override]
        self,
        question: str,
        *,
        k: int | None = None,
        filters: FiltersLike = None,
        history: Sequence[Turn] = (),
        on_text: Callable[[str], None] | None = None,
        **options: Any,
    ) -> Answer:
        """The checked answer with its citations. `history` is earlier (question, answer) turns, for
        follow-ups; `on_text` receives the model's text as it is produced. A citation of a PDF or
        Word file names the page its quote starts on."""
        answer = super().ask(question, k=k, filters=as_filters(filters), history=history, on_text=on_text, **options)
        return self._with_pages(answer)

    def _with_pages(self, answer: Answer) -> Answer:
        documents = self.index.documents
        if not any(documents[c.doc_id].pages for c in answer.citations if c.doc_id in documents):
            return answer
        return dataclasses.replace(answer, citations=tuple(
            dataclasses.replace(c, page=page_of(documents[c.doc_id], c.start)) if c.doc_id in documents else c
            for c in answer.citations))

    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: FiltersLike = None,
        history: Sequence[Turn] = (),
        **options: Any,
    ) -> Iterator[str | Answer]:
        """The model's text in pieces (str) as it is produced, then the checked `Answer`, whose
        `.answer` is what stands (the checks may have removed or added sentences)."""
        pieces: queue.Queue = queue.Queue()
        done = object()
        result: list[Answer] = []
        failure: list[BaseException] = []
        filters = as_filters(filters)  # a bad filter raises here, in the caller's thread

        def run() -> None:
            try:
                result.append(self.ask(question, k=k, filters=filters, history=history, on_text=pieces.put, **options))
            except BaseException as e:  # handed to the consumer
                failure.append(e)
            finally:
                pieces.put(done)

        worker = threading.Thread(target=run, name="assistant-stream", daemon=True)
        worker.start()
        while (piece := pieces.get()) is not done:
            yield piece
        worker.join()
        if failure:
            raise failure[0]
        yield result[0]

    # -- the index on disk changing under a long-lived Assistant (the server) -------------------
    @property
    def generation(self) -> str:
        """The index generation this Assistant has loaded."""
        return Path(self.index.path).name

    def generation_on_disk(self) -> str:
        try:
            return (Path(self.settings.index_dir) / CURRENT).read_text().strip()
        except OSError:
            return ""

    def reload_index(self) -> bool:
        """Load the index's current generation when it differs from the loaded one (the embedder
        and model stay loaded). Returns whether it reloaded; on a damaged index raises and keeps the old one."""
        if self.generation_on_disk() == self.generation:
            return False
        fresh = load_index(self.settings)
        self.retriever = Retriever(fresh, self.embedder, self.settings)
        self.index = fresh
        return True


def index(
    paths: Sequence[str | Path] = (),
    index_dir: str | Path = "index",
    *,
    rebuild: bool = False,
    skip_bad: bool = False,
    progress: Callable[[str], None] | None = None,
    **settings: Any,
) -> BuildReport:
    """Make the index in `index_dir` mirror `paths` (folders, .txt .md .html .jsonl .pdf .docx files, and
    feed or page URLs; default: what it was built from, else the bundled articles). Only new or
    changed documents are embedded."""
    from assistant.ingest import is_url
    from assistant.indexing import index_paths

    return index_paths(
        [p if is_url(p) else Path(p) for p in paths], _settings(index_dir, None, settings), rebuild=rebuild, skip_bad=skip_bad,
        warn=progress, progress=progress,
    )
