"""Every page declares the hub's SVG icon, so browsers stop asking /favicon.ico."""

import xml.etree.ElementTree as ET
from pathlib import Path

from django.contrib.staticfiles import finders
from django.test import Client

ICON = "hub/favicon.svg"


def test_pages_link_the_svg_icon(db):
    html = Client().get("/login/").content.decode()
    assert f'<link rel="icon" href="/static/{ICON}" type="image/svg+xml">' in html


def test_the_icon_is_a_small_svg():
    path = Path(finders.find(ICON))
    assert path.stat().st_size < 2_000
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 32 32"
