"""Every notification reads as a French sentence with a link, never a kind.

A fresh user saw "Mise à jour : grades.mark.published" in the notification
centre: notifications.js worded only the kinds it had a describer for. Now
the notifications API carries each event's ``HubEvent.notice`` (title, body,
url, in the reader's language) and notifications.js shows it for kinds it
does not word itself. These tests walk the whole registry, so a new module's
kind cannot slip through.
"""

import json
import re
from pathlib import Path

import pytest
from django.db import transaction
from django.test import Client

from core.agenda.events import BookingChanged, BookingData
from core.grades.events import MarkChanged, MarkData
from core.reportcards.events import ReportCardAvailable
from core.schoollife.events import NoticeChanged, NoticeData
from hub import send_event
from hub.events import HubEvent, event_class, notifying_kinds
from hub.streams import user_stream
from tests.conftest import verify_session

ROOT = Path(__file__).resolve().parents[2]
SOURCE = (ROOT / "frontend" / "static" / "hub" / "notifications.js").read_text(
    encoding="utf-8"
)


def js_block(start: str) -> str:
    """The source from ``start`` to the next line that closes a top-level block."""
    index = SOURCE.index(start)
    end = SOURCE.index("\n}", index)
    return SOURCE[index:end]


def js_describers() -> set[str]:
    return set(
        re.findall(r'^\s+"([a-z_.]+)": describe', js_block("const DESCRIBERS"), re.M)
    )


def js_linked(kind: str) -> bool:
    """Whether eventLink() has a case of its own for ``kind`` (exact or prefix)."""
    body = js_block("export function eventLink")
    return any(
        kind == name or kind.startswith(name)
        for name in re.findall(r'"([a-z_]+\.[a-z_.]*)"', body)
    )


def describes_itself(kind: str) -> bool:
    return event_class(kind).notice is not HubEvent.notice


def test_the_registry_holds_every_module_kind():
    # hub's AppConfig imports every app's events module: grades.mark was
    # missing until a grades view happened to be imported.
    kinds = set(notifying_kinds())
    assert {
        "grades.mark",
        "reportcards.available",
        "schoollife.notice",
        "schoollife.reminder",
        "agenda.entry",
        "agenda.booking",
        "agenda.reminder",
    } <= kinds


def project_kinds() -> list[str]:
    """The notifying kinds of the project (not those other tests declare)."""
    return [
        k
        for k in notifying_kinds()
        if not event_class(k).__module__.startswith("tests.")
    ]


@pytest.mark.parametrize("kind", project_kinds())
def test_every_notifying_kind_has_french_words_and_a_link(kind):
    if kind in js_describers():
        # Worded live by notifications.js; its link must be there too.
        assert js_linked(kind), f"{kind}: a describer but no eventLink case"
    else:
        # Worded by the server (HubEvent.notice: title and url).
        assert describes_itself(kind), (
            f"{kind}: neither a describer in notifications.js nor a notice()"
        )


def test_the_fallback_is_a_sentence_not_the_kind():
    body = js_block("export function describe(")
    assert 'return _("New notification");' in body
    assert "kind}" not in body and "Update:" not in SOURCE
    po = (ROOT / "frontend/locale/fr/LC_MESSAGES/djangojs.po").read_text("utf-8")
    assert 'msgid "New notification"\nmsgstr "Nouvelle notification"' in po


def test_the_server_link_must_be_a_path_of_this_site():
    body = js_block("export function eventLink")
    assert "event.url" in body
    assert r"/^\/(?!\/)/" in body  # "/x", never "//evil.example" nor "https:"


# The API gives the server's words ---------------------------------------------


def plain(text: str) -> str:
    """French typography's no-break spaces (U+00A0, U+202F) as spaces."""
    return re.sub("[\u00a0\u202f]", " ", text)


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password="pw-" + user.username)
    verify_session(client, user)
    return client


def emit(user, event: HubEvent) -> None:
    with transaction.atomic():
        send_event([user_stream(user.pk)], event)


def new_kind_events(school) -> list[HubEvent]:
    lea = school.pupil
    notice = NoticeData(
        id=7,
        org_id=school.org.pk,
        title="Sortie au musée",
        urgent=False,
        requires_ack=True,
    )
    return [
        MarkChanged(
            op="published",
            org_id=school.org.pk,
            student_id=lea.pk,
            student_name="Léa Dubois",
            mark=MarkData(
                evaluation_id=3,
                class_id=school.class_4b.pk,
                subject="Mathématiques",
                title="Contrôle",
                date="2026-01-19",
                period_id=2,
                coefficient="1",
                out_of="20",
                value="15.50",
            ),
        ),
        ReportCardAvailable(
            op="published",
            report_card_id=4,
            student_id=lea.pk,
            student_name="Léa Dubois",
            org_id=school.org.pk,
            class_title="4e B",
            period_title="1er trimestre",
            actor_id=school.cpe.pk,
        ),
        NoticeChanged(op="published", item=notice),
        NoticeChanged(op="withdrawn", item=notice),
        BookingChanged(
            op="booked",
            org_id=school.org.pk,
            booking=BookingData(
                id=5,
                evening_id=9,
                slot_id=11,
                start="2026-01-20T17:00:00+01:00",
                minutes=10,
                room="B12",
                teacher_id=school.teacher.pk,
                teacher_name="Alice Martin",
                guardian_id=school.parent.pk,
                guardian_name="Karim Dubois",
                student_id=lea.pk,
                student_name="Léa Dubois",
            ),
        ),
    ]


WORDS = [
    (
        "Nouvelle note en Mathématiques\u00a0: Contrôle (15,5/20)",
        "/grades/?child={lea}&period=2",
    ),
    ("Bulletin disponible (1er trimestre)\u00a0: Léa Dubois", "/reportcards/"),
    ("Information\u00a0: Sortie au musée", "/schoollife/7/"),
    ("Information retirée\u00a0: Sortie au musée", "/schoollife/7/"),
    ("Rendez-vous pris\u00a0: Léa Dubois avec Alice Martin", "/agenda/evenings/9/"),
]


def test_the_api_words_new_kinds_in_french_with_their_page(school):
    for event in new_kind_events(school):
        emit(school.parent, event)
    events = login(school.parent).get("/api/notifications/").json()["events"]
    got = [(e["title"], e["url"]) for e in reversed(events)]
    lea = school.pupil.pk
    for (title, url), (want_title, want_url) in zip(got, WORDS, strict=True):
        assert plain(title).startswith(plain(want_title)), title
        assert url == want_url.format(lea=lea)
    assert events[-1]["body"] == "Léa Dubois"  # the grade's child, a 2nd line


def test_the_api_words_follow_the_reader_language(school):
    emit(school.parent, new_kind_events(school)[1])
    client = login(school.parent)
    client.post("/i18n/setlang/", {"language": "en"})
    event = client.get("/api/notifications/").json()["events"][0]
    assert event["title"] == "Report card available (1er trimestre): Léa Dubois"


def test_an_event_its_class_no_longer_accepts_has_no_title(school):
    # An event logged by an older version (a field since renamed): listed,
    # worded by notifications.js's generic sentence, never an error page.
    from hub.models import Event

    emit(school.parent, new_kind_events(school)[1])
    Event.objects.update(payload={"renamed": 1})
    events = login(school.parent).get("/api/notifications/").json()["events"]
    assert len(events) == 1 and "title" not in events[0]


def test_the_centre_page_carries_the_words(school):
    emit(school.parent, new_kind_events(school)[2])
    html = login(school.parent).get("/notifications/").content.decode()
    match = re.search(r'<script id="notif-initial"[^>]*>(.*?)</script>', html, re.S)
    event = json.loads(match.group(1))["events"][0]
    assert plain(event["title"]) == "Information : Sortie au musée"
    assert event["url"] == "/schoollife/7/"
