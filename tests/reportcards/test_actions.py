"""The writes' rules: validation, clearing, who may appraise, audit."""

import pytest

from core.audit.models import AuditEntry
from core.reportcards import access, actions, generation
from core.reportcards.models import SubjectAppraisal
from core.roster.models import SchoolClass
from tests.conftest import make_user
from tests.reportcards.conftest import evaluation, mark

pytestmark = pytest.mark.django_db


def save(term, texts, subject="Mathématiques"):
    return actions.save_subject_appraisals(
        teacher=term.teacher,
        school_class=term.class_4b,
        period=term.period,
        subject=subject,
        texts=texts,
    )


def test_a_pupil_of_another_class_is_refused(term):
    with pytest.raises(actions.ReportCardError, match="pas dans la classe"):
        save(term, {term.pupil.pk: "Bien", term.pupil3.pk: "Intrus"})
    assert not SubjectAppraisal.objects.exists()
    with pytest.raises(actions.ReportCardError):
        actions.save_head_appraisals(
            staff=term.cpe,
            school_class=term.class_4b,
            period=term.period,
            texts={term.other_child.pk: "Intrus"},
        )


def test_saving_the_same_text_changes_nothing_and_empty_clears(term):
    assert save(term, {term.pupil.pk: "  Bien\r\n  "}) == 1
    assert SubjectAppraisal.objects.get().text == "Bien"
    assert save(term, {term.pupil.pk: "Bien"}) == 0
    assert save(term, {term.pupil2.pk: ""}) == 0  # nothing to clear
    assert save(term, {term.pupil.pk: ""}) == 1
    assert SubjectAppraisal.objects.get().text == ""
    entries = AuditEntry.objects.filter(action="reportcards.subject_appraisal_saved")
    assert entries.count() == 2
    assert all("Bien" not in str(e.detail) for e in entries)  # no text in the log


def test_the_appraisal_is_encrypted_at_rest(term):
    save(term, {term.pupil.pk: "Œuvre confidentielle"})
    raw = SubjectAppraisal.objects.values_list("text", flat=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT text FROM {SubjectAppraisal._meta.db_table}")
        stored = bytes(cursor.fetchone()[0])
    assert b"confidentielle" not in stored and list(raw) == ["Œuvre confidentielle"]


def test_who_may_appraise_which_subject(term):
    assert access.subjects_to_appraise(term.teacher, term.class_4b, term.period) == [
        "Mathématiques"
    ]
    assert access.subjects_to_appraise(term.bruno, term.class_4b, term.period) == [
        "Français"
    ]
    assert access.subjects_to_appraise(term.outsider, term.class_4b, term.period) == []
    assert access.subjects_to_appraise(term.cpe, term.class_4b, term.period) == []


def test_a_group_teacher_appraises_in_the_group(term):
    """German is taught in a group: its teacher appraises there, and the
    pupil's card (made for the homeroom) shows it."""
    group = SchoolClass.objects.create(
        org=term.org,
        session=term.session,
        title="4e B Allemand",
        class_type=SchoolClass.Type.SCHEDULED,
    )
    gerda = make_user("gerda", "teacher", "Gerda", "Klein")
    group.enrollments.create(user=gerda, role="teacher")
    group.enrollments.create(user=term.pupil, role="student")
    e = evaluation(group, "Allemand", gerda, term.period)
    mark(e, term.pupil, 18)
    assert access.subjects_to_appraise(gerda, group, term.period) == ["Allemand"]
    actions.save_subject_appraisals(
        teacher=gerda,
        school_class=group,
        period=term.period,
        subject="Allemand",
        texts={term.pupil.pk: "Sehr gut, Léa !"},
    )
    from core.reportcards.generation import _ClassFacts
    from core.reportcards.models import ReportCard

    card = ReportCard(
        student=term.pupil, period=term.period, school_class=term.class_4b
    )
    data = _ClassFacts(term.class_4b, term.period, [term.pupil.pk]).card_data(
        card, None
    )
    german = next(line for line in data.subjects if line.subject == "Allemand")
    assert german.appraisal == "Sehr gut, Léa !" and german.teacher == "Gerda Klein"
    assert german.average == 18


def test_a_class_without_pupils_cannot_be_published(term):
    empty = SchoolClass.objects.create(org=term.org, session=term.session, title="6e Z")
    with pytest.raises(actions.ReportCardError):
        actions.publish(staff=term.cpe, school_class=empty, period=term.period)


def test_the_generation_reads_a_constant_number_of_queries_per_card(
    term, django_capture_on_commit_callbacks
):
    """Making the cards of a class reads the class's facts once; each more
    card costs the same few queries (its lock, file, audit and event), not
    one per subject or mark."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def generation_queries() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            publication = actions.publish(
                staff=term.cpe, school_class=term.class_4b, period=term.period
            )
        with CaptureQueriesContext(connection) as queries:
            result = generation.generate(publication.pk, publication.generation)
        assert result["failed"] == 0
        return len(queries), result["made"]

    two, made = generation_queries()
    assert made == 2
    maths = term.class_4b.evaluations.filter(subject="Mathématiques").first()
    for n in range(4):
        pupil = make_user(f"p{n}", "student", "Élève", f"N{n}")
        term.class_4b.enrollments.create(user=pupil, role="student")
        mark(maths, pupil, 10 + n)
    six, made = generation_queries()
    assert made == 6
    # The four new pupils have no guardian: no event to send for them.
    assert six - two <= 4 * 12, (two, six)


def test_erasing_a_pupil_deletes_their_cards_and_pdfs(
    term, django_capture_on_commit_callbacks
):
    from core.privacy.actions import erase_person
    from core.reportcards.models import Publication, ReportCard
    from tests.delivery.helpers import run_tasks

    save(term, {term.pupil.pk: "Bien", term.pupil2.pk: "Assez bien"})
    with django_capture_on_commit_callbacks(execute=True):
        actions.publish(staff=term.cpe, school_class=term.class_4b, period=term.period)
    run_tasks()
    card = ReportCard.objects.get(student=term.pupil)
    storage, name = card.file.storage, card.file.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        erase_person(term.pupil, None)
    assert not ReportCard.objects.filter(student=term.pupil).exists()
    assert not SubjectAppraisal.objects.filter(student=term.pupil).exists()
    assert not storage.exists(name)
    # Hugo's card, the appraisals' authors and the publication stay.
    assert ReportCard.objects.filter(student=term.pupil2).exists()
    assert SubjectAppraisal.objects.filter(student=term.pupil2).exists()
    assert Publication.objects.filter(school_class=term.class_4b).exists()
