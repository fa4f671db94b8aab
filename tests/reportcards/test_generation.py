"""Publishing a period: the PDFs are made in the background, read back with
pypdf, and hold the hand-computed averages, the appraisals and the skills."""

import io
from decimal import Decimal

import pytest
from django_tasks_db.models import DBTaskResult
from pypdf import PdfReader

from core.audit.models import AuditEntry
from core.grades.models import Evaluation, GradesPolicy
from core.reportcards import actions, generation, pdf
from core.reportcards.models import Publication, ReportCard
from tests.delivery.helpers import run_tasks
from tests.reportcards.conftest import LONG_APPRAISAL, mark
from tests.reportcards.helpers import card_of, card_text, pdf_text

pytestmark = pytest.mark.django_db(transaction=False)


def publish(term, staff=None, school_class=None, period=None):
    return actions.publish(
        staff=staff or term.cpe,
        school_class=school_class or term.class_4b,
        period=period or term.period,
    )


def test_publishing_enqueues_the_generation_and_makes_no_pdf_at_once(
    term, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        publication = publish(term)
    assert publication.generation == 1
    assert DBTaskResult.objects.filter(status="READY").count() >= 1
    cards = ReportCard.objects.filter(period=term.period)
    assert {c.student_id for c in cards} == {term.pupil.pk, term.pupil2.pk}
    assert all(c.status == ReportCard.Status.PENDING and not c.file for c in cards)
    run_tasks()
    for card in ReportCard.objects.filter(period=term.period):
        assert card.status == ReportCard.Status.READY
        assert card.school_class_id == term.class_4b.pk
        assert card.generated_at is not None
        with card.file.open("rb") as handle:
            stored = handle.read()
        assert not stored.startswith(b"%PDF")  # encrypted at rest
    assert AuditEntry.objects.filter(action="reportcards.published").count() == 1
    assert AuditEntry.objects.filter(action="reportcard.generated").count() == 2


def test_the_pdf_holds_the_hand_computed_averages_and_appraisals(
    term, django_capture_on_commit_callbacks
):
    actions.save_subject_appraisals(
        teacher=term.teacher,
        school_class=term.class_4b,
        period=term.period,
        subject="Mathématiques",
        texts={term.pupil.pk: LONG_APPRAISAL.strip()},
    )
    actions.save_head_appraisals(
        staff=term.cpe,
        school_class=term.class_4b,
        period=term.period,
        texts={term.pupil.pk: "Trimestre très sérieux, félicitations ; 5 € d’amende !"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        publish(term)
    run_tasks()
    text = card_text(term.pupil, term.period)
    for expected in [
        "Collège Victor Hugo",
        "0350001A",
        "Léa Dubois",
        "4e B",
        "1er trimestre",
        "2025-2026",
        "Mathématiques",
        "13,33",  # Léa in maths: (12 + 2 × 14) / 3
        "15,50",  # Léa in French
        "Moyenne générale : 14,42",  # (13.333… + 15.5) / 2 = 14.4166…
        "Alice Martin",
        "Bruno Leroy",
        "Œuvre remarquable",
        "l’élève progresse",
        "Zoë",
        "félicitations ; 5 € d’amende",
        "D1.3",
        "Très bonne maîtrise",  # 3 and 4: 3.5 half up
    ]:
        assert expected in text, expected
    # The whole long appraisal is there, wrapped in its cell.
    assert text.count("Œuvre remarquable") == 6
    # Two pupils: no class figure (Léa's card would give Hugo's away).
    for hidden in ("10,67", "8,00", "12,75", "moyenne générale de la classe"):
        assert hidden not in text, hidden
    hugo = card_text(term.pupil2, term.period)
    assert "Hugo Petit" in hugo and "Léa" not in hugo
    assert "Moyenne générale : 9,00" in hugo
    assert "Maîtrise" not in hugo  # no skill assessed for Hugo


def test_class_figures_over_five_pupils_by_the_school_policy(
    term, django_capture_on_commit_callbacks
):
    """Three more pupils: maths 10, 14, 6; French 11, 9, 13. Maths class
    (13.333… + 8 + 10 + 14 + 6) / 5 = 10.2666… → 10,27; French 58.5 / 5 =
    11,70; overall (14.4166… + 9 + 10.5 + 11.5 + 9.5) / 5 = 10.9833… →
    10,98. The school hides the lowest and highest: the card too."""
    from tests.grades.conftest import classmates

    GradesPolicy.objects.create(org=term.org, show_min_max=False)
    maths = Evaluation.objects.filter(
        school_class=term.class_4b, subject="Mathématiques", coefficient=1
    ).get(out_of=20)
    french = Evaluation.objects.get(subject="Français", school_class=term.class_4b)
    for pupil, m, f in zip(classmates(term, 3), (10, 14, 6), (11, 9, 13), strict=True):
        mark(maths, pupil, m)
        mark(french, pupil, f)
    with django_capture_on_commit_callbacks(execute=True):
        publish(term)
    run_tasks()
    text = card_text(term.pupil, term.period)
    for shown in ("10,27", "11,70", "moyenne générale de la classe : 10,98"):
        assert shown in text, shown
    for hidden in ("6,00", "14,00", "9,00"):  # the lowest and highest
        assert hidden not in text, hidden


def test_many_subjects_and_long_text_break_pages():
    lines = [
        pdf.SubjectLine(
            subject=f"Discipline n° {n} – Œuvres",
            average=Decimal("12.5"),
            class_average=Decimal("11"),
            minimum=Decimal("3.25"),
            maximum=Decimal("19"),
            teacher="Zoë Lefèvre",
            appraisal="Très bon travail ; l’élève s’investit. " * 12,
        )
        for n in range(30)
    ]
    data = pdf.build(
        pdf.CardData(
            school="Collège Œdipe",
            uai="0350001A",
            pupil="Zoë Çelik",
            class_title="4e B",
            period="2e semestre",
            year="2025-2026",
            subjects=lines,
            overall=Decimal("12.5"),
            head_appraisal="Fin du bulletin",
        )
    )
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 3
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=0.5)  # A4
    text = pdf_text(data)
    assert "Discipline n° 29 – Œuvres" in text
    assert "Fin du bulletin" in text
    # The header row comes back on each page.
    assert text.count("Appréciation") >= len(reader.pages) - 1


def test_control_characters_are_dropped():
    assert pdf.clean("a\x00b\x1bc\r\nd") == "abc\nd"


def test_a_card_is_generated_for_each_school_by_its_own_staff(
    term, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        publish(
            term,
            staff=term.berthe,
            school_class=term.other_class,
            period=term.other_period,
        )
    run_tasks()
    text = card_text(term.other_child, term.other_period)
    assert "Collège Jules Verne" in text and "Inès Dubois" in text
    assert "16,00" in text
    assert not ReportCard.objects.filter(period=term.period).exists()


def test_an_older_generation_stops_and_announces_nothing(
    term, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = publish(term)
        publish(term)
    assert generation.generate(first.pk, 1) == {"status": "superseded"}
    run_tasks()
    publication = Publication.objects.get(pk=first.pk)
    assert publication.generation == publication.notified_generation == 2
    assert card_of(term.pupil, term.period).status == ReportCard.Status.READY


def test_a_card_that_fails_is_marked_and_the_others_still_go_out(
    term, django_capture_on_commit_callbacks, monkeypatch
):
    from tests.conftest import capture_events

    real = pdf.build

    def build(data):
        if data.pupil == "Hugo Petit":
            raise ValueError("broken")
        return real(data)

    monkeypatch.setattr(pdf, "build", build)
    with django_capture_on_commit_callbacks(execute=True):
        publication = publish(term)
    with capture_events() as events:
        result = generation.generate(publication.pk, publication.generation)
    assert result == {"status": "done", "made": 1, "failed": 1, "announced": 1}
    assert card_of(term.pupil2, term.period).status == ReportCard.Status.FAILED
    assert [
        e.data["student_id"] for e in events if e.kind == "reportcards.available"
    ] == [term.pupil.pk]
    done = [e for e in events if e.kind == "reportcards.progress"][-1]
    assert done.op == "done" and done.data["failed"] == 1
    assert AuditEntry.objects.filter(action="reportcard.failed").count() == 1
