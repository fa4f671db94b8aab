"""Grades writes: the grid's cells, drafts and publication, changes after
publication, removal, periods; every write logged."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.audit.models import AuditEntry
from core.grades import actions
from core.grades.models import Evaluation, Mark, Period, Skill, SkillLevel
from tests.conftest import capture_events
from tests.grades.conftest import evaluation

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("", (None, "")),
        ("  ", (None, "")),
        ("12", (D("12.00"), "")),
        ("12,5", (D("12.50"), "")),
        ("12.25", (D("12.25"), "")),
        ("0", (D("0.00"), "")),
        ("20", (D("20.00"), "")),
        ("abs", (None, "absent")),
        ("ABS", (None, "absent")),
        ("disp", (None, "exempt")),
        ("nr", (None, "not_submitted")),
        ("n.r.", (None, "not_submitted")),
    ],
)
def test_cells_accepted(typed, parsed):
    assert actions.parse_cell(typed, D("20")) == parsed


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("21", "entre 0 et 20"),
        ("-1", "entre 0 et 20"),
        ("12,555", "Deux décimales"),
        ("douze", "n'est pas une note"),
        ("1e3", "entre 0 et 20"),
        ("NaN", "n'est pas une note"),
        ("12,5,1", "n'est pas une note"),
    ],
)
def test_cells_refused_with_a_clear_message(typed, message):
    with pytest.raises(actions.GradesError, match=message):
        actions.parse_cell(typed, D("20"))


def test_skills_only_evaluation_takes_statuses_not_marks():
    assert actions.parse_cell("abs", None) == (None, "absent")
    with pytest.raises(actions.GradesError, match="pas notée"):
        actions.parse_cell("12", None)


def test_a_draft_tells_nobody(periods):
    s = periods
    with capture_events() as events:
        made = evaluation(s.class_4b, s.teacher, {s.pupil: "12", s.pupil2: "abs"})
    assert events == []
    assert made.published_at is None
    assert made.period == s.periods[1]  # from its date
    assert Mark.objects.get(evaluation=made, student=s.pupil).value == D("12")
    actions_logged = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"evaluation.created", "marks.saved"} <= actions_logged


def test_one_bad_cell_saves_nothing_and_names_the_row(periods):
    s = periods
    made = evaluation(s.class_4b, s.teacher, {s.pupil: "12"})
    with pytest.raises(actions.GridError) as caught:
        actions.save_marks(
            evaluation=made,
            teacher=s.teacher,
            entries={
                s.pupil.pk: actions.Entry(mark="14"),
                s.pupil2.pk: actions.Entry(mark="25"),
            },
        )
    assert set(caught.value.errors) == {s.pupil2.pk}
    assert "entre 0 et 20" in caught.value.errors[s.pupil2.pk]
    assert Mark.objects.get(evaluation=made, student=s.pupil).value == D("12")
    assert not Mark.objects.filter(evaluation=made, student=s.pupil2).exists()


def test_a_pupil_of_another_class_is_refused(periods):
    s = periods
    made = evaluation(s.class_4b, s.teacher)
    with pytest.raises(actions.GradesError, match="pas dans la classe"):
        actions.save_marks(
            evaluation=made,
            teacher=s.teacher,
            entries={s.other_child.pk: actions.Entry(mark="12")},
        )


def test_comments_are_encrypted_and_skill_levels_checked(periods):
    s = periods
    skill = Skill.objects.get(code="D1.1")
    made = evaluation(s.class_4b, s.teacher, skills=[skill])
    actions.save_marks(
        evaluation=made,
        teacher=s.teacher,
        entries={
            s.pupil.pk: actions.Entry(
                mark="15", comment="Très bon travail", skills={skill.pk: "4"}
            )
        },
    )
    mark = Mark.objects.get(evaluation=made, student=s.pupil)
    assert mark.comment == "Très bon travail"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT comment FROM grades_mark WHERE id = %s", [mark.pk])
        assert "Très bon".encode() not in bytes(cursor.fetchone()[0])
    assert SkillLevel.objects.get(evaluation=made, student=s.pupil).level == 4
    with pytest.raises(actions.GridError) as caught:
        actions.save_marks(
            evaluation=made,
            teacher=s.teacher,
            entries={s.pupil.pk: actions.Entry(mark="15", skills={skill.pk: "5"})},
        )
    assert "niveau de 1 à 4" in caught.value.errors[s.pupil.pk]


def test_emptying_a_cell_removes_the_mark(periods):
    s = periods
    made = evaluation(s.class_4b, s.teacher, {s.pupil: "12"})
    actions.save_marks(
        evaluation=made, teacher=s.teacher, entries={s.pupil.pk: actions.Entry()}
    )
    assert not Mark.objects.filter(evaluation=made).exists()


def test_publish_once(periods):
    s = periods
    made = evaluation(s.class_4b, s.teacher, {s.pupil: "12", s.pupil2: "9"})
    with capture_events() as events:
        actions.publish(evaluation=made, teacher=s.teacher)
        actions.publish(evaluation=made, teacher=s.teacher)
    made.refresh_from_db()
    assert made.published_at is not None
    assert sorted(
        e.data["student_id"]
        for e in events
        if e.stream == "user:" + str(e.data["student_id"])
    ) == sorted([s.pupil.pk, s.pupil2.pk])
    assert AuditEntry.objects.filter(action="evaluation.published").count() == 1


def test_after_publication_only_changed_pupils_hear(periods):
    s = periods
    made = evaluation(
        s.class_4b, s.teacher, {s.pupil: "12", s.pupil2: "9"}, publish=True
    )
    with capture_events() as events:
        changed = actions.save_marks(
            evaluation=made,
            teacher=s.teacher,
            entries={
                s.pupil.pk: actions.Entry(mark="12,0"),
                s.pupil2.pk: actions.Entry(mark="11"),
            },
        )
    assert changed == {s.pupil2.pk}
    assert {e.data["student_id"] for e in events} == {s.pupil2.pk}
    assert {e.op for e in events} == {"changed"}
    made.refresh_from_db()
    assert made.edited_at is not None


def test_changing_the_evaluation_after_publication(periods):
    s = periods
    made = evaluation(s.class_4b, s.teacher, {s.pupil: "12"}, publish=True)
    fields = {
        "title": "Contrôle 2",
        "subject": "Mathématiques",
        "date": made.date,
        "kind": "test",
        "coefficient": D("2"),
        "out_of": D("10"),
        "period": None,
        "skills": [],
    }
    with pytest.raises(actions.GradesError, match="dépassent 10"):
        actions.change_evaluation(evaluation=made, teacher=s.teacher, **fields)
    fields["out_of"] = D("40")
    with capture_events() as events:
        actions.change_evaluation(evaluation=made, teacher=s.teacher, **fields)
    assert [
        e.data["mark"]["title"] for e in events if e.stream == f"user:{s.pupil.pk}"
    ] == ["Contrôle 2"]
    assert events[0].data["mark"]["on_twenty"] == "6.00"


def test_removal_is_soft_and_told_without_marks(periods):
    s = periods
    made = evaluation(s.class_4b, s.teacher, {s.pupil: "12"}, publish=True)
    with capture_events() as events:
        actions.remove_evaluation(evaluation=made, teacher=s.teacher)
    assert Evaluation.objects.get(pk=made.pk).deleted_at is not None
    assert {e.op for e in events} == {"removed"}
    assert all(e.data["mark"]["value"] is None for e in events)
    with pytest.raises(actions.GradesError, match="supprimée"):
        actions.publish(evaluation=made, teacher=s.teacher)


def test_a_teacher_who_does_not_teach_the_class_cannot_create(periods):
    s = periods
    with pytest.raises(actions.GradesError, match="enseignez pas"):
        evaluation(s.class_4b, s.outsider)


def test_no_period_for_the_date(periods):
    s = periods
    with pytest.raises(actions.GradesError, match="Aucune période"):
        evaluation(s.class_4b, s.teacher, date=dt.date(2026, 8, 1))


def test_periods_are_defined_within_the_year_without_overlap(periods):
    s = periods
    Period.objects.filter(org=s.org).delete()
    made = actions.save_period(
        actor=s.cpe,
        org=s.org,
        session=s.session,
        kind="semester",
        title="Semestre 1",
        start_date=dt.date(2025, 9, 1),
        end_date=dt.date(2026, 1, 31),
    )
    assert AuditEntry.objects.filter(action="period.saved", target_id=made.pk).exists()
    with pytest.raises(actions.GradesError, match="chevauche"):
        actions.save_period(
            actor=s.cpe,
            org=s.org,
            session=s.session,
            kind="semester",
            title="Semestre 2",
            start_date=dt.date(2026, 1, 15),
            end_date=dt.date(2026, 7, 4),
        )
    with pytest.raises(actions.GradesError, match="comprise dans l'année"):
        actions.save_period(
            actor=s.cpe,
            org=s.org,
            session=s.session,
            kind="semester",
            title="Semestre 2",
            start_date=dt.date(2026, 2, 1),
            end_date=dt.date(2026, 8, 31),
        )
    with pytest.raises(actions.GradesError, match="termine avant"):
        actions.save_period(
            actor=s.cpe,
            org=s.org,
            session=s.session,
            kind="semester",
            title="Semestre 2",
            start_date=dt.date(2026, 3, 1),
            end_date=dt.date(2026, 2, 1),
        )
    with pytest.raises(actions.GradesError, match="Année scolaire inconnue"):
        actions.save_period(
            actor=s.cpe,
            org=s.org,
            session=s.other_class.session,
            kind="semester",
            title="Semestre 2",
            start_date=dt.date(2026, 2, 1),
            end_date=dt.date(2026, 7, 4),
        )


def test_the_log_says_whose_marks_changed(periods):
    """Each save of the grid logs the ids of the pupils whose result
    changed (not only how many), for the record of who changed a mark."""
    s = periods
    made = evaluation(s.class_4b, s.teacher, {s.pupil: "12", s.pupil2: "abs"})
    first = AuditEntry.objects.filter(action="marks.saved").latest("pk")
    assert first.detail["changed_pupils"] == sorted([s.pupil.pk, s.pupil2.pk])
    actions.save_marks(
        evaluation=made,
        teacher=s.teacher,
        entries={
            s.pupil.pk: actions.Entry(mark="12"),
            s.pupil2.pk: actions.Entry(mark="9"),
        },
    )
    second = AuditEntry.objects.filter(action="marks.saved").latest("pk")
    assert second.detail["changed_pupils"] == [s.pupil2.pk]
    assert (second.detail["pupils"], second.detail["changed"]) == (2, 1)
