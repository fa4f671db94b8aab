"""The pages and the download: who gets what, bad input, audit."""

import pytest
from django.test import Client

from core.audit.models import AuditEntry
from core.reportcards import actions
from core.reportcards.models import MAX_APPRAISAL, ReportCard, SubjectAppraisal
from core.roster.models import Enrollment, GuardianLink
from tests.conftest import login_verified
from tests.delivery.helpers import run_tasks
from tests.reportcards.conftest import LONG_APPRAISAL
from tests.reportcards.helpers import card_of, pdf_text

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    return login_verified(Client(), user)


@pytest.fixture
def published(term, django_capture_on_commit_callbacks):
    """School A's term published for 4e B and generated; school B's not."""
    with django_capture_on_commit_callbacks(execute=True):
        actions.publish(staff=term.cpe, school_class=term.class_4b, period=term.period)
    run_tasks()
    term.card = card_of(term.pupil, term.period)
    term.card2 = card_of(term.pupil2, term.period)
    return term


def url(card) -> str:
    return f"/reportcards/{card.pk}/pdf/"


def test_the_guardian_downloads_the_pdf(published):
    response = client_for(published.parent).get(url(published.card))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert "attachment" in response["Content-Disposition"]
    assert "Léa Dubois" in pdf_text(response.content)


@pytest.mark.parametrize(
    "who", ["pupil", "other_parent", "teacher", "outsider", "berthe"]
)
def test_others_get_404(published, who):
    # The pupil herself (guardians only), Hugo's mother, the class's
    # teacher, a teacher and the staff of the other school.
    response = client_for(getattr(published, who)).get(url(published.card))
    assert response.status_code == 404


def test_anonymous_goes_to_the_login_page(published):
    response = Client().get(url(published.card))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_ended_guardian_link_downloads_nothing_at_once(published):
    client = client_for(published.parent)
    assert client.get(url(published.card)).status_code == 200
    GuardianLink.objects.filter(
        guardian=published.parent, student=published.pupil
    ).delete()
    assert client.get(url(published.card)).status_code == 404
    assert "Léa" not in client.get("/reportcards/").content.decode()


def test_school_staff_download_and_it_is_audited(published):
    response = client_for(published.cpe).get(url(published.card))
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="reportcard.downloaded")
    assert entry.actor_id == published.cpe.pk
    assert entry.subject_id == published.pupil.pk
    assert entry.org_id == published.org.pk


def test_a_card_not_published_is_not_for_families(term):
    actions.save_head_appraisals(
        staff=term.cpe,
        school_class=term.class_4b,
        period=term.period,
        texts={term.pupil.pk: "Brouillon"},
    )
    card = card_of(term.pupil, term.period)
    assert client_for(term.parent).get(url(card)).status_code == 404
    assert client_for(term.cpe).get(url(card)).status_code == 404  # no PDF yet


def test_the_guardian_page_lists_each_childs_cards(
    published, django_capture_on_commit_callbacks
):
    client = client_for(published.parent)
    page = client.get("/reportcards/").content.decode()
    assert "Léa Dubois" in page and "Inès Dubois" in page
    assert url(published.card) in page
    assert url(published.card2) not in page  # Hugo is not his child
    assert "Aucun bulletin publié pour l’instant." in page  # Inès: not yet
    with django_capture_on_commit_callbacks(execute=True):
        actions.publish(
            staff=published.berthe,
            school_class=published.other_class,
            period=published.other_period,
        )
    run_tasks()
    page = client.get("/reportcards/").content.decode()
    assert url(card_of(published.other_child, published.other_period)) in page
    # Sophie sees Hugo's card only.
    page = client_for(published.other_parent).get("/reportcards/").content.decode()
    assert url(published.card2) in page and url(published.card) not in page


def test_the_pupil_page_says_cards_go_to_guardians(published):
    page = client_for(published.pupil).get("/reportcards/").content.decode()
    assert "transmis à vos responsables légaux" in page
    assert url(published.card) not in page


# The teacher's appraisals ------------------------------------------------


def subject_url(term, period=None, subject="Mathématiques"):
    period = period or term.period
    return f"/reportcards/class/{term.class_4b.pk}/period/{period.pk}/subject/?subject={subject}"


def test_the_teacher_writes_appraisals_beside_the_averages(term):
    client = client_for(term.teacher)
    index = client.get("/reportcards/").content.decode()
    assert "Mathématiques" in index and "Français" not in index
    page = client.get(subject_url(term)).content.decode()
    assert "Léa Dubois · moyenne 13,33/20" in page
    assert "Hugo Petit · moyenne 8,00/20" in page
    viewed = AuditEntry.objects.get(action="reportcards.subject_viewed")
    assert viewed.actor_id == term.teacher.pk and viewed.org_id == term.org.pk
    response = client.post(
        subject_url(term),
        {
            "subject": "Mathématiques",
            f"appraisal-{term.pupil.pk}": LONG_APPRAISAL.strip(),
            f"appraisal-{term.pupil2.pk}": "<b>Des efforts</b>",
        },
    )
    assert response.status_code == 302
    texts = {
        a.student_id: a.text
        for a in SubjectAppraisal.objects.filter(subject="Mathématiques")
    }
    assert texts[term.pupil2.pk] == "<b>Des efforts</b>"
    page = client.get(subject_url(term)).content.decode()
    assert "&lt;b&gt;Des efforts&lt;/b&gt;" in page and "<b>Des" not in page
    assert (
        AuditEntry.objects.filter(
            action="reportcards.subject_appraisal_saved", actor_id=term.teacher.pk
        ).count()
        == 2
    )


def test_a_too_long_appraisal_is_refused_and_nothing_is_lost(term):
    client = client_for(term.teacher)
    too_long = "é" * (MAX_APPRAISAL + 1)
    response = client.post(
        subject_url(term),
        {
            "subject": "Mathématiques",
            f"appraisal-{term.pupil.pk}": too_long,
            f"appraisal-{term.pupil2.pk}": "Bien",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "L’appréciation de Léa Dubois fait 1001 caractères : 1000 au plus." in page
    assert too_long in page and ">Bien</textarea>" in page  # what was typed
    assert not SubjectAppraisal.objects.exists()  # all or nothing


def test_a_teacher_of_another_subject_or_class_gets_404(term):
    # Bruno teaches French in 4e B: not maths.
    assert client_for(term.bruno).get(subject_url(term)).status_code == 404
    response = client_for(term.bruno).post(
        subject_url(term),
        {"subject": "Mathématiques", f"appraisal-{term.pupil.pk}": "x"},
    )
    assert response.status_code == 404
    assert client_for(term.outsider).get(subject_url(term)).status_code == 404
    # Alice's enrollment ends: at once, nothing.
    Enrollment.objects.filter(user=term.teacher, school_class=term.class_4b).delete()
    assert client_for(term.teacher).get(subject_url(term)).status_code == 404
    assert not SubjectAppraisal.objects.exists()


def test_an_unknown_period_is_404(term):
    client = client_for(term.teacher)
    # Another school's period, and one that does not exist.
    assert client.get(subject_url(term, period=term.other_period)).status_code == 404
    response = client.get(
        f"/reportcards/class/{term.class_4b.pk}/period/999999/subject/"
    )
    assert response.status_code == 404
    staff = client_for(term.cpe)
    assert (
        staff.get(f"/reportcards/class/{term.class_4b.pk}/period/999999/").status_code
        == 404
    )
    assert (
        staff.post(
            f"/reportcards/class/{term.class_4b.pk}/period/{term.other_period.pk}/publish/"
        ).status_code
        == 404
    )


# The staff's class page ------------------------------------------------------


def class_url(term, suffix=""):
    return f"/reportcards/class/{term.class_4b.pk}/period/{term.period.pk}/{suffix}"


def test_staff_write_head_appraisals_and_publish(
    term, django_capture_on_commit_callbacks
):
    client = client_for(term.cpe)
    index = client.get("/reportcards/").content.decode()
    assert class_url(term) in index and "non publié<" in index
    page = client.get(class_url(term)).content.decode()
    assert "Léa Dubois · moyenne générale 14,42/20" in page
    assert AuditEntry.objects.filter(action="reportcards.class_viewed").count() == 1
    response = client.post(
        class_url(term), {f"appraisal-{term.pupil.pk}": "Excellent trimestre"}
    )
    assert response.status_code == 302
    assert card_of(term.pupil, term.period).head_appraisal == "Excellent trimestre"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(class_url(term, "publish/"))
    assert response.status_code == 302
    page = client.get(class_url(term)).content.decode()
    assert "en cours : 2" in page
    run_tasks()
    page = client.get(class_url(term)).content.decode()
    assert "Générés : 2" in page and "Publier à nouveau" in page
    assert f"/reportcards/{card_of(term.pupil, term.period).pk}/pdf/" in page


def test_a_too_long_head_appraisal_is_refused(term):
    client = client_for(term.cpe)
    response = client.post(
        class_url(term), {f"appraisal-{term.pupil.pk}": "x" * (MAX_APPRAISAL + 5)}
    )
    assert response.status_code == 200
    assert "1005 caractères" in response.content.decode()
    assert not ReportCard.objects.exists()


def test_other_schools_staff_and_teachers_cannot_publish(term):
    for user in (term.berthe, term.teacher, term.parent):
        client = client_for(user)
        assert client.get(class_url(term)).status_code == 404
        assert client.post(class_url(term, "publish/")).status_code == 404
    assert not ReportCard.objects.exists()
