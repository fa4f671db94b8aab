"""Fresh-user trial fixes on the report card pages: French wording and
plural forms."""

import pytest
from django.test import Client
from django.utils import translation

from tests.conftest import login_verified

pytestmark = pytest.mark.django_db


def test_subject_picker_says_matiere():
    with translation.override("fr"):
        assert translation.pgettext("school subject", "Subject") == "Matière"


def test_appraisals_saved_in_the_singular_and_the_plural(term):
    client = login_verified(Client(), term.teacher)
    url = (
        f"/reportcards/class/{term.class_4b.pk}/period/{term.period.pk}"
        "/subject/?subject=Mathématiques"
    )
    field = f"appraisal-{term.pupil.pk}"
    other = f"appraisal-{term.pupil2.pk}"
    page = client.post(url, {"subject": "Mathématiques", field: "Bien"}, follow=True)
    assert "Appréciations enregistrées (1 modifiée)." in page.content.decode()
    page = client.post(
        url,
        {"subject": "Mathématiques", field: "Très bien", other: "Courage"},
        follow=True,
    )
    assert "Appréciations enregistrées (2 modifiées)." in page.content.decode()


def test_the_staff_page_says_a_period_is_not_published(term):
    client = login_verified(Client(), term.cpe)
    html = client.get("/reportcards/").content.decode()
    assert "non publié<" in html and "non publiés" not in html
