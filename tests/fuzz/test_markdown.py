"""The message renderer: any text gives HTML that sanitising leaves unchanged,
with no script, event handler or dangerous link, and the text's words kept."""

import re

import nh3
from hypothesis import given
from hypothesis import strategies as st

from core.messaging.render import ALLOWED_TAGS, render_message

# Text an attacker would try: markdown and HTML syntax, schemes, entities.
PIECES = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html,<script>alert(1)</script>)",
        "[x](vbscript:msgbox)",
        "<a href='javascript:alert(1)'>x</a>",
        "**",
        "_",
        "* ",
        "1. ",
        "\n",
        "\n\n",
        "<https://example.org>",
        '[lien](https://example.org "t")',
        "&lt;",
        "&#x3C;script&#x3E;",
        "<svg/onload=alert(1)>",
        "<iframe src=//evil>",
        '"><b>',
        "`code`",
        "<style>*{}</style>",
        "\x00",
        "\u202e",
    ]
)
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=20)), max_size=25).map("".join)

TAG = re.compile(r"<\s*/?\s*([a-zA-Z][a-zA-Z0-9-]*)")


@given(TEXT)
def test_rendered_html_is_already_clean_and_holds_only_allowed_tags(text):
    html = render_message(text)
    assert {name.lower() for name in TAG.findall(html)} <= ALLOWED_TAGS
    lowered = html.lower()
    assert "<script" not in lowered
    # Text may say "javascript:" (it is shown, not run); links may not.
    for href in re.findall(r'href="([^"]*)"', lowered):
        assert href.startswith(("http://", "https://", "mailto:")), href
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", lowered)
    # Sanitising again changes nothing: nothing was left for a browser to fix.
    assert (
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes={"a": {"href", "target", "rel"}},
            url_schemes={"http", "https", "mailto"},
            link_rel=None,
        )
        == html
    )


@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=40))
def test_plain_words_survive_rendering(word):
    assert word in render_message(word)
