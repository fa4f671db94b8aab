"""Every string the page modules translate has its French in a JS catalogue.

A string missing from every ``djangojs.po`` shows in English in a French
page (a fresh user saw "Changed: Devoir en Mathématiques…").
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted((ROOT / "frontend" / "static" / "hub").glob("*.js")) + sorted(
    (ROOT / "core").glob("*/static/*/*.js")
)
# _("…") and the two forms of ngettext("…", "…", n).
CALLS = re.compile(r'\b(?:_|gettext)\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]')
PLURALS = re.compile(r'\bngettext\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*"((?:[^"\\]|\\.)*)"')


def catalogue() -> dict[str, str]:
    """msgid → msgstr of every French djangojs catalogue of the project."""
    entries = {}
    for po in [ROOT / "frontend" / "locale" / "fr" / "LC_MESSAGES" / "djangojs.po"] + [
        *ROOT.glob("core/*/locale/fr/LC_MESSAGES/djangojs.po")
    ]:
        text = po.read_text(encoding="utf-8")
        for msgid, msgstr in re.findall(
            r'^msgid "((?:[^"\\]|\\.)*)"\n(?:msgid_plural ".*"\n)?'
            r'msgstr(?:\[0\])? "((?:[^"\\]|\\.)*)"',
            text,
            flags=re.M,
        ):
            entries[msgid] = msgstr
    return entries


def translated_strings(module: Path) -> set[str]:
    source = module.read_text(encoding="utf-8")
    found = set(CALLS.findall(source))
    for singular, _plural in PLURALS.findall(source):
        found.add(singular)
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_every_translated_string_has_its_french(module):
    entries = catalogue()
    missing = sorted(
        s for s in translated_strings(module) if not entries.get(s, "").strip()
    )
    assert not missing, f"{module.name}: no French for {missing}"
