"""What reading a picture found: a digit, or the reason there is none to read."""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    """What a picture held, as a kind a reader can branch on (the message says it in words)."""

    DIGIT = "digit"
    """One digit, framed for the model."""
    NOTHING = "nothing"
    """No ink, or no ink shaped like a digit (blank paper, only lines or specks)."""
    SEVERAL = "several"
    """Several separate digits: read them one by one (``reading.several``)."""
    TOO_DARK = "too_dark"
    """The photo is too dark to tell ink from paper."""
    TOO_BLURRED = "too_blurred"
    """The photo is too blurred (out of focus or shaken) to see the strokes."""

    @property
    def readable(self) -> bool:
        """True when there is one digit to give the model."""
        return self is Outcome.DIGIT

    @property
    def retake(self) -> bool:
        """True when a better photo, not other writing, would help (too dark, too blurred)."""
        return self in (Outcome.TOO_DARK, Outcome.TOO_BLURRED)
