"""Work started now and collected later: a model loading while the user types or files are read."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Loading:
    """`load(*args)` run in a thread from now on; `result()` waits for it and returns its value or
    raises its error in the caller's thread."""

    def __init__(self, load: Callable, *args):
        self._value: object = None
        self._error: BaseException | None = None
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
