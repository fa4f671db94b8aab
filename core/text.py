"""Text helpers shared by the apps."""

import unicodedata


def strip_accents(text: str) -> str:
    """Return ``text`` without its combining marks: ``"Orléans"`` → ``"Orleans"``,
    ``"Noël"`` → ``"Noel"``; letters without a decomposition (ø, ß, œ) stay.

    The one way the roster's headers and usernames, the school calendar's
    academies and the timetable's teacher names drop accents before each
    compares or builds its own key.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
