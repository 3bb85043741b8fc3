"""`assistant serve`: the HTTP API (OpenAI-compatible and native), the web page, and their queue."""
