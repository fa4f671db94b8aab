"""The installable app (frontend/webapp.py): manifest, icons, /favicon.ico,
the offline page and what the service worker is told about offline copies."""

import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from PIL import Image

from frontend import webapp
from tests.frontend.test_views import login

CSS = Path(finders.find("hub/app.css")).read_text(encoding="utf-8")


def css_variable(name: str) -> str:
    return re.search(rf"--{name}:\s*(#[0-9a-f]{{6}})", CSS).group(1)


def manifest(language="fr") -> dict:
    response = Client().get("/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json; charset=utf-8"
    return json.loads(response.content)


def test_the_manifest_makes_an_installable_french_app(db):
    body = manifest()

    assert body["name"] == "Hub ENT"
    assert body["short_name"] == "ENT"
    assert body["lang"] == "fr"
    assert body["description"].startswith("Emploi du temps, devoirs")
    assert body["start_url"] == "/"
    assert body["scope"] == "/"
    assert body["display"] == "standalone"
    # The colours of the header (and the icon) and of the page, one source.
    assert body["theme_color"] == css_variable("header-bg")
    assert body["background_color"] == css_variable("bg")


def test_the_manifest_speaks_the_request_language(db):
    assert manifest("en")["description"].startswith("Timetable, homework")


@pytest.mark.parametrize(
    ("purpose", "size"), [("any", 192), ("any", 512), ("maskable", 512)]
)
def test_the_manifest_icons_exist_at_their_size(db, purpose, size):
    icon = next(
        i
        for i in manifest()["icons"]
        if i["purpose"] == purpose and i["sizes"] == f"{size}x{size}"
    )
    assert icon["type"] == "image/png"
    path = finders.find(icon["src"].removeprefix("/static/"))
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)
        if purpose == "maskable":
            # Full bleed: a mask may cut any corner, none may be transparent.
            assert image.getpixel((0, 0))[3] == 255


def test_the_manifest_refuses_post(db):
    assert Client().post("/manifest.webmanifest").status_code == 405


def test_every_page_links_the_manifest_the_touch_icon_and_the_theme(db):
    html = Client().get("/login/").content.decode()

    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    touch = re.search(r'<link rel="apple-touch-icon" href="/static/([^"]+)">', html)
    with Image.open(finders.find(touch.group(1))) as image:
        assert image.size == (180, 180)
        assert image.mode == "RGB"  # iOS draws transparency black
    assert f'<meta name="theme-color" content="{webapp.THEME_COLOR}">' in html


def test_favicon_ico_is_served_at_the_root(db):
    response = Client().get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # ICONDIR, type 1: an icon


def test_the_offline_page_needs_no_login_and_names_the_saved_pages(db):
    response = Client().get("/offline/", HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Vous êtes hors ligne" in html
    assert 'id="offline-pages"' in html
    labels = json.loads(
        re.search(r'id="offline-labels"[^>]*>(.*?)</script>', html).group(1)
    )
    assert labels == {
        "/timetable/": "Emploi du temps",
        "/timetable/mine/": "Ma semaine",
        "/notifications/": "Notifications",
    }
    assert 'data-cache="hub-pages"' in html


def test_the_offline_page_shows_no_one_s_data(school):
    # The worker fetches it without cookies; even with them it names no one.
    html = login(school.parent).get("/offline/").content.decode()

    assert "Vous êtes hors ligne" in html
    assert school.parent.last_name not in html.split('id="offline"')[1]


def worker_config(client=None, language="fr") -> dict:
    body = (client or Client()).get("/sw.js", {"lang": language}).content.decode()
    line = body.split("\n", 1)[0]
    return json.loads(line.removeprefix("self.HUB_SW = ").removesuffix(";"))


def test_the_worker_keeps_only_the_user_s_timetable_and_notifications(db):
    config = worker_config()

    assert config["offlinePages"] == [
        "/timetable/",
        "/timetable/mine/",
        "/notifications/",
    ]
    assert config["offlineUrl"] == "/offline/"
    assert config["loginUrl"] == "/login/"
    assert config["logoutUrl"] == "/logout/"
    assert config["offlineBanner"] == "Hors ligne — dernière mise à jour le %(date)s"
    assert config["lang"] == "fr"
    assert "/static/hub/offline.js" in config["assets"]
    for asset in config["assets"]:
        assert finders.find(asset.removeprefix("/static/")), asset


def test_the_worker_banner_follows_the_registered_language(db):
    assert worker_config(language="en")["offlineBanner"] == (
        "Offline — last updated on %(date)s"
    )


def test_every_page_registers_the_same_worker_url(school):
    # Two URLs would make each page replace the other's worker.
    html = login(school.parent).get("/").content.decode()
    config = json.loads(
        re.search(r'id="push-config"[^>]*>(.*?)</script>', html).group(1)
    )

    assert config["worker"] == "/sw.js?lang=fr"


def test_the_content_security_policy_allows_the_manifest_and_the_worker(db):
    policy = Client().get("/login/")["Content-Security-Policy"]

    assert "manifest-src 'self'" in policy
    assert "worker-src 'self'" in policy
