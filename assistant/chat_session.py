"""A chat session: input lines with editing and history (readline), the conversation so far, the last answer."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

from assistant.model_files import cache_dir


class Loading:
    """`load(*args)` run in a thread from now on; `result()` waits for it and returns it or raises
    its error. Lets `chat` show its prompt while the index and models load."""

    def __init__(self, load: Callable, *args):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(load, *args), daemon=True, name="assistant-loading")
        self._thread.start()

    def _run(self, load, *args) -> None:
        try:
            self._value = load(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            self._error = e

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


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

    def ask(self, question: str, on_text=None):
        assistant = self.assistant.result() if isinstance(self.assistant, Loading) else self.assistant
        answer = assistant.ask(question, filters=self.filters, history=self.history, on_text=on_text)
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
