"""Every error the library raises on purpose; the CLI prints its message on one line and exits 1.

    AssistantError                 a message that says what went wrong and how to fix it
    ├── InputError                 a file or folder the user gave cannot be ingested
    │   ├── EmptyCorpusError       nothing indexable was found
    │   └── UnreadableFileError    binary, not UTF-8, malformed JSON lines, unsupported type
    ├── IndexError_                the index on disk is missing, corrupt or incompatible
    │   ├── IndexMissingError
    │   ├── IndexCorruptError      a file is truncated or fails its checksum
    │   ├── IndexMismatchError     built with another embedding model or chunking
    │   ├── IndexLockedError       another indexing run kept the index locked too long
    │   └── IndexWriteError        the index cannot be written (disk full, read-only); the old one is kept
    ├── ConfigError                an unknown backend name, a bad setting, a prompt with wrong variables
    ├── ModelError                 a model file is missing or fails its hash check
    └── LLMError                   the language model failed while answering
        └── LLMConnectionError     an OpenAI-compatible server is down, unknown model, timeouts
"""


class AssistantError(Exception):
    """Base: str(error) is a complete one-line message for the user."""


class InputError(AssistantError):
    pass


class EmptyCorpusError(InputError):
    pass


class UnreadableFileError(InputError):
    pass


class IndexError_(AssistantError):  # trailing underscore: do not shadow the builtin IndexError
    pass


class IndexMissingError(IndexError_):
    pass


class IndexCorruptError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


class IndexLockedError(IndexError_):
    pass


class IndexWriteError(IndexError_):
    pass


class ConfigError(AssistantError):
    pass


class ModelError(AssistantError):
    pass


class LLMError(AssistantError):
    pass


class LLMConnectionError(LLMError):
    pass
