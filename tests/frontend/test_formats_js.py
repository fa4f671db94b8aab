"""formats.js writes dates exactly as Django's ``date`` filter does (run with Node)."""

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation
from django.utils.dateformat import format as django_format

REPO = Path(__file__).resolve().parents[2]
FORMATS_JS = REPO / "frontend" / "static" / "hub" / "formats.js"
ABSENCES_JS = REPO / "frontend" / "static" / "hub" / "absences.js"
PARIS = ZoneInfo("Europe/Paris")
FORMATS = ["D j N H:i", "D j M H:i", "l j F Y G:i", "d/m/Y b n \\h\\e\\u\\r\\e H"]


def instants() -> list[dt.datetime]:
    """Every weekday and month, midnight, both sides of both DST changes."""
    start = dt.datetime(2025, 12, 29, 7, 5, tzinfo=dt.UTC)  # a Monday
    days = [start + dt.timedelta(days=n, hours=n % 24) for n in range(0, 400, 3)]
    edges = [
        dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC),  # 01:59 CET
        dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC),  # 03:00 CEST
        dt.datetime(2026, 10, 25, 0, 59, tzinfo=dt.UTC),  # 02:59 CEST
        dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.UTC),  # 02:00 CET
        dt.datetime(2026, 1, 18, 23, 0, tzinfo=dt.UTC),  # Monday 00:00 in Paris
        dt.datetime(2026, 1, 19, 8, 0, tzinfo=PARIS),
    ]
    return days + edges


def run_node(isos: list[str], formats: list[str]) -> dict:
    script = f"""
import {{ djangoDate }} from {json.dumps(FORMATS_JS.as_uri())};
const isos = {json.dumps(isos)};
const formats = {json.dumps(formats)};
const out = {{}};
for (const lang of ["fr", "en"]) {{
  out[lang] = formats.map((f) => isos.map((iso) => djangoDate(iso, f, lang)));
}}
console.log(JSON.stringify(out));
"""
    result = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_formats_js_matches_django_date_filter():
    if shutil.which("node") is None:
        pytest.fail(
            "Node.js is needed for the formats.js tests: apt-get install nodejs"
        )
    moments = instants()
    # Events carry local times with their offset, as LessonRef does.
    isos = [timezone.localtime(m, PARIS).isoformat() for m in moments]
    got = run_node(isos, FORMATS)
    for lang in ("fr", "en"):
        with translation.override(lang):
            for index, fmt in enumerate(FORMATS):
                expected = [
                    django_format(timezone.localtime(m, PARIS), fmt) for m in moments
                ]
                assert got[lang][index] == expected, (lang, fmt)


def test_invalid_dates_give_empty_text():
    got = run_node(["", "soon"], ["D j N H:i"])
    assert got == {"fr": [["", ""]], "en": [["", ""]]}


def test_absences_js_uses_the_lesson_format():
    """absences.js draws lesson starts with LESSON_START (checked above)."""
    source = FORMATS_JS.read_text()
    assert re.search(r'export const LESSON_START = "D j N H:i";', source)
    assert "djangoDate(lesson.start, LESSON_START, lang)" in ABSENCES_JS.read_text()
