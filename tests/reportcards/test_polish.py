"""Fresh-user trial fixes on the report card pages: French wording and
plural forms."""

import pytest
from django.test import Client
from django.utils import timezone

from core.reportcards import actions
from tests.conftest import login_verified, make_occurrence

pytestmark = pytest.mark.django_db


def test_subject_picker_says_matiere(term):
    # The picker shows when the teacher has two subjects in the class.
    make_occurrence(
        term.class_4b,
        timezone.now(),
        subject="Accompagnement personnalisé",
        teachers=[term.teacher],
    )
    client = login_verified(Client(), term.teacher)
    html = client.get(
        f"/reportcards/class/{term.class_4b.pk}/period/{term.period.pk}"
        "/subject/?subject=Mathématiques"
    ).content.decode()
    assert "Matière" in html and "Objet" not in html


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


def test_a_change_after_publication_is_flagged_to_teacher_and_staff(
    term, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        actions.publish(staff=term.cpe, school_class=term.class_4b, period=term.period)
    staff = login_verified(Client(), term.cpe)
    class_url = f"/reportcards/class/{term.class_4b.pk}/period/{term.period.pk}/"
    assert "à publier de nouveau" not in staff.get("/reportcards/").content.decode()
    assert "Appréciations modifiées" not in staff.get(class_url).content.decode()
    teacher = login_verified(Client(), term.teacher)
    url = (
        f"/reportcards/class/{term.class_4b.pk}/period/{term.period.pk}"
        "/subject/?subject=Mathématiques"
    )
    page = teacher.post(
        url,
        {"subject": "Mathématiques", f"appraisal-{term.pupil.pk}": "Bien"},
        follow=True,
    ).content.decode()
    assert "Ces bulletins sont déjà publiés" in page
    index = staff.get("/reportcards/").content.decode()
    assert "modifié depuis la publication : à publier de nouveau" in index
    assert "Appréciations modifiées depuis la publication" in (
        staff.get(class_url).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        actions.publish(staff=term.cpe, school_class=term.class_4b, period=term.period)
    assert "à publier de nouveau" not in staff.get("/reportcards/").content.decode()
