"""The one text normaliser: what two texts are compared as, wherever the code compares them."""

from __future__ import annotations

import unicodedata

# Typographic variants that articles and answers mix freely.
_PUNCTUATION = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def normalise(text: str) -> str:
    """NFKC (non-breaking spaces become spaces), straight quotes and dashes, single spaces, case-folded."""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION)
    return " ".join(text.split()).casefold()
