"""The demo's 4e B has its report cards of the period of its marks."""

import datetime as dt

import pytest

from core.demo.school import DEMO_UAI, build_demo_school
from core.reportcards.models import Publication, ReportCard
from tests.reportcards.helpers import card_text

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("today", [dt.date(2026, 1, 20), dt.date(2026, 9, 3)])
def test_demo_report_cards(today, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    build_demo_school(today=today)
    publication = Publication.objects.get(school_class__org__uai=DEMO_UAI)
    assert publication.school_class.title == "4e B"
    assert publication.notified_generation == publication.generation == 1
    cards = ReportCard.objects.filter(school_class=publication.school_class)
    assert cards.exists()
    assert all(c.status == ReportCard.Status.READY and c.file for c in cards)
    texts = [card_text(c.student, publication.period) for c in cards]
    assert any("Un travail régulier et soigné" in text for text in texts)
    assert all("Mathématiques" in text for text in texts)
