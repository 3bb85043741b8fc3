"""A chat session: input lines with editing and history (readline), the conversation so far, the last answer."""

from __future__ import annotations

import os
from collections.abc import Iterator

from assistant.background import Loading
from assistant.model_files import cache_dir


class ChatSession:
    def __init__(self, assistant, filters):
        self.assistant = assistant  # an Assistant, or a Loading of one
        self.filters = filters
        self.history: list[tuple[str, str]] = []
        self.last = None
        self._history_file = cache_dir() / "chat_history"
        self._readline = None
        try:
            import readline

            self._readline = readline
            if self._history_file.is_file():
                readline.read_history_file(str(self._history_file))
        except (ImportError, OSError):
            pass

    def lines(self) -> Iterator[str]:
        while True:
            try:
                yield input("\n› ")
            except EOFError:
                return
            except KeyboardInterrupt:
                print()  # Ctrl-C at the prompt clears the line, as in a shell

    def refresh(self) -> str | None:
        """Load the index again when a build has committed a new generation since it was loaded;
        a note for the user, or None when nothing changed. On an error
        (the new index is damaged or built with other settings) the loaded one stays in use."""
        from assistant.retrieval import Retriever
        from assistant.store import current_generation_name, load_index

        a = self.assistant.result() if isinstance(self.assistant, Loading) else self.assistant
        if not hasattr(a, "index"):
            return None  # a server (ASSISTANT_SERVER) reloads its own index
        name = current_generation_name(a.settings.index_dir)
        if name is None or name == a.index.path.name:
            return None
        index = load_index(a.settings)
        a.index, a.retriever = index, Retriever(index, a.embedder, a.settings)
        return f"index reloaded: {len(index.documents)} articles, {index.manifest.get('n_chunks', len(index.chunks))} passages"

    def ask(self, question: str, on_text=None, on_stage=None):
        assistant = self.assistant.result() if isinstance(self.assistant, Loading) else self.assistant
        answer = assistant.ask(question, filters=self.filters, history=self.history, on_text=on_text, on_stage=on_stage)
        self.last = answer
        self.history.append((answer.query or question, answer.answer))
        return answer

    def save_history(self) -> None:
        if self._readline is None or os.environ.get("CI"):
            return
        try:
            self._history_file.parent.mkdir(parents=True, exist_ok=True)
            self._readline.write_history_file(str(self._history_file))
        except OSError:
            pass
