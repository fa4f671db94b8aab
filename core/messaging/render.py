"""Message text to safe HTML: a small markdown subset, then sanitised.

markdown-it-py in its "zero" preset with only emphasis (bold, italics),
lists, links and line breaks enabled, raw HTML off; then nh3 (ammonia) keeps
only those tags, only http/https/mailto links, and adds
``rel="noopener noreferrer"`` and ``target="_blank"`` to every link.
"""

from functools import cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a"}


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("zero", {"html": False, "linkify": False, "breaks": True}).enable(
        ["emphasis", "list", "link", "newline", "autolink"]
    )


def render_message(text: str) -> str:
    """Return ``text`` rendered as sanitised HTML (safe to insert as HTML)."""
    html = _markdown().render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "target"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
