"""The style sheet's blocks are closed: an unclosed rule (left by a merge)
swallowed every rule after it, the marks grid's among them."""

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "frontend" / "static" / "hub" / "app.css"


def test_every_block_of_app_css_is_closed_at_top_level_sections():
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(encoding="utf-8"), flags=re.S)
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"app.css: an extra }} on line {number}"
    assert depth == 0, "app.css: a block is never closed"
