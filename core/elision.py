"""French elision before a name: "de Léa" but "d’Inès", "d’Hugo", "d’Yves".

``of_name(name)`` is the one way a page, an e-mail or a letter says "of
<name>": it picks the catalogue's elided form (context "before a vowel
sound") when the name starts with one, so "de Inès" never appears. Other
languages translate both forms alike ("of Inès").
"""

from django.utils.translation import gettext, pgettext

from core.text import strip_accents

VOWELS = "aeiou"


def starts_with_vowel_sound(name: str) -> bool:
    """Return whether French elides "de" before ``name``.

    A vowel (accented or not, Œ/Æ too); a mute h before a vowel, as in most
    given names (Hélène, Hugo); a Y before a consonant (Yves, Yvonne) but
    not before a vowel (Yasmine, Yann).
    """
    letters = strip_accents(name.strip()).lower()
    first, second = letters[:1], letters[1:2]
    if first in ("œ", "æ"):
        return True
    if first == "h":
        return bool(second) and second in VOWELS
    if first == "y":
        return bool(second) and second not in VOWELS
    return bool(first) and first in VOWELS


def of_name(name: str) -> str:
    """Return "of ``name``" in the active language, elided in French."""
    if starts_with_vowel_sound(name):
        return pgettext("before a vowel sound", "of %(name)s") % {"name": name}
    return gettext("of %(name)s") % {"name": name}
