"""Render the app icons from ``frontend/static/hub/favicon.svg`` (run once, commit).

    .venv/bin/python -m scripts.render_icons

Writes into ``frontend/static/hub/icons/``: ``icon-192.png``, ``icon-512.png``
(the SVG as it is, rounded corners on transparency), ``maskable-512.png`` (the
same drawing on a full-bleed square of its own background colour, the glyph
inside the central 80 % circle that every mask keeps: W3C "Web App Manifest"
§ icon purpose "maskable"), ``apple-touch-icon.png`` (180 px, opaque: iOS
draws transparency black and rounds the corners itself) and
``frontend/static/hub/favicon.ico`` (16, 32, 48 px) for browsers that ask
``/favicon.ico`` without reading the page.

Debian's Chromium draws the SVG (Playwright, never a downloaded browser) and
Pillow packs the ICO: nothing here runs in the hub itself.
"""

import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

HUB = Path(__file__).resolve().parents[1] / "frontend" / "static" / "hub"
SOURCE = HUB / "favicon.svg"
ICONS = HUB / "icons"
BACKGROUND = "#102a5c"  # the SVG's rect, app.css --header-bg
SAFE_ZONE = 0.8


def page_html(svg: str, size: int, scale: float, background: str) -> str:
    """A page showing ``svg`` at ``scale`` of a ``size`` square of ``background``."""
    inner = round(size * scale)
    sized = svg.replace("<svg ", '<svg width="100%" height="100%" ', 1)
    return (
        "<!DOCTYPE html><html><body style='margin:0'>"
        f"<div style='width:{size}px;height:{size}px;background:{background};"
        "display:flex;align-items:center;justify-content:center'>"
        f"<div style='width:{inner}px;height:{inner}px'>"
        f"{sized}"
        "</div></div></body></html>"
    )


def render(browser, svg: str, size: int, scale=1.0, background="transparent"):
    """Return a PIL image of ``svg`` drawn by Chromium at ``size`` px."""
    page = browser.new_page(viewport={"width": size, "height": size})
    page.set_content(page_html(svg, size, scale, background))
    png = page.screenshot(
        omit_background=True, clip=dict(x=0, y=0, width=size, height=size)
    )
    page.close()
    return Image.open(io.BytesIO(png)).convert("RGBA")


def main() -> None:
    svg = SOURCE.read_text(encoding="utf-8")
    ICONS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        for size in (192, 512):
            render(browser, svg, size).save(ICONS / f"icon-{size}.png", optimize=True)
        # The rounded square fills the safe zone; the mask cuts the rest.
        maskable = render(browser, svg, 512, SAFE_ZONE, BACKGROUND)
        maskable.save(ICONS / "maskable-512.png", optimize=True)
        apple = render(browser, svg, 180, 0.86, BACKGROUND).convert("RGB")
        apple.save(ICONS / "apple-touch-icon.png", optimize=True)
        big = render(browser, svg, 48)
        browser.close()
    big.save(HUB / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])


if __name__ == "__main__":
    main()
