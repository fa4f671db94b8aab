"""The pages: the access matrix over two schools and the family with a
child in each (a family never sees another pupil's mark), the grid, the
class summary and the CSV export, the periods page."""

import pytest
from django.urls import reverse

from core.audit.models import AuditEntry
from core.grades.models import Evaluation, GradesPolicy, Mark, Period
from core.roster.models import Enrollment, GuardianLink
from tests.conftest import login_verified
from tests.grades.conftest import classmates, evaluation

pytestmark = pytest.mark.django_db

NOTES = reverse("grades:index")


@pytest.fixture
def marked(periods, settings):
    """Published: Léa 13,75 and Hugo 8,25 (with a comment) in 4e B; Inès 17
    in the other school; a draft with Léa 2. The school hides min and max
    (so only the class average is shown)."""
    s = periods
    settings.LANGUAGE_CODE = "fr"
    GradesPolicy.objects.create(org=s.org, show_min_max=False, alert_below=10)
    s.maths = evaluation(
        s.class_4b,
        s.teacher,
        {s.pupil: "13,75", s.pupil2: "8,25"},
        title="Pythagore",
        publish=True,
    )
    Mark.objects.filter(student=s.pupil2).update(comment="Hugo-secret")
    s.draft = evaluation(s.class_4b, s.teacher, {s.pupil: "2"}, title="Brouillon")
    s.history = evaluation(
        s.other_class,
        s.outsider,
        {s.other_child: "17"},
        subject="Histoire",
        title="Révolution",
        publish=True,
    )
    return s


def page(client, user, **params):
    client.force_login(user)
    return client.get(NOTES, params)


def test_guardian_reads_each_child_and_never_another_pupil(client, marked):
    s = marked
    lea = page(client, s.parent, child=s.pupil.pk, period=s.periods[1].pk)
    text = lea.content.decode()
    assert lea.status_code == 200
    assert "Pythagore" in text and "13,75/20" in text
    assert "8,25" not in text and "Hugo" not in text
    assert "Brouillon" not in text and "Révolution" not in text
    ines = page(
        client, s.parent, child=s.other_child.pk, period=s.other_periods[1].pk
    ).content.decode()
    assert "Révolution" in ines and "17/20" in ines
    assert "Pythagore" not in ines and "13,75" not in ines
    assert page(client, s.parent, child=s.pupil2.pk).status_code == 404


def test_the_other_family_reads_only_hugo(client, marked):
    s = marked
    text = page(client, s.other_parent, period=s.periods[1].pk).content.decode()
    assert "8,25/20" in text and "Hugo-secret" in text
    assert "13,75" not in text


def test_pupil_reads_their_own(client, marked):
    s = marked
    text = page(client, s.pupil, period=s.periods[1].pk).content.decode()
    assert "13,75/20" in text and "Hugo-secret" not in text
    # Two marks: no class figure (they would give Hugo's mark away).
    assert "classe :" not in text and "min." not in text
    assert page(client, s.pupil, child=s.pupil2.pk).status_code == 404


def _five_marks(s):
    """Three more marks of Pythagore: 10, 12, 11 (five results, average 11)."""
    from core.grades import actions

    more = classmates(s, 3)
    actions.save_marks(
        evaluation=s.maths,
        teacher=s.teacher,
        entries={
            pupil.pk: actions.Entry(mark=text)
            for pupil, text in zip(more, ("10", "12", "11"), strict=True)
        },
    )


def test_class_figures_only_over_five_results(client, periods, settings):
    """Léa 15, Hugo 7: Karim sees no class figure (they would tell him
    Hugo's 7), on the mark nor on the subject; five results show them. The
    teacher, who reads every mark, sees them whatever the count."""
    s = periods
    settings.LANGUAGE_CODE = "fr"
    s.maths = evaluation(
        s.class_4b, s.teacher, {s.pupil: "15", s.pupil2: "7"}, publish=True
    )
    text = page(client, s.parent, child=s.pupil.pk, period=s.periods[1].pk)
    text = text.content.decode()
    assert "15/20" in text
    for hidden in ("classe :", "min.", "max.", "plus basse", "plus haute", "7,00"):
        assert hidden not in text
    login_verified(client, s.teacher)
    grid = client.get(reverse("grades:grid", args=[s.maths.pk])).content.decode()
    assert "11,00" in grid and "7,00" in grid
    _five_marks(s)
    text = page(client, s.parent, child=s.pupil.pk, period=s.periods[1].pk)
    text = text.content.decode()
    assert "classe : 11" in text and "min. 7" in text and "max. 15" in text
    # The subject's figures too (five pupils' averages).
    assert "classe : 11,00" in text and "15,00" in text


def test_ended_link_and_enrollment_end_access_at_once(client, marked):
    s = marked
    GuardianLink.objects.filter(guardian=s.parent, student=s.pupil).delete()
    assert page(client, s.parent, child=s.pupil.pk).status_code == 404
    Enrollment.objects.filter(user=s.pupil, school_class=s.class_4b).delete()
    text = page(client, s.pupil, period=s.periods[1].pk).content.decode()
    assert "13,75" not in text


def test_teachers_manage_only_their_evaluations(client, marked):
    s = marked
    grid = reverse("grades:grid", args=[s.maths.pk])
    login_verified(client, s.teacher)
    text = client.get(grid).content.decode()
    assert "13,75" in text and "8,25" in text and "Hugo-secret" in text
    assert client.get(reverse("grades:grid", args=[s.draft.pk])).status_code == 200
    for user in (s.outsider, s.parent, s.pupil):
        login_verified(client, user)
        assert client.get(grid).status_code == 404
    login_verified(client, s.cpe)
    assert client.get(grid).status_code == 404


def test_staff_read_their_orgs_classes_logged(client, marked):
    s = marked
    login_verified(client, s.cpe)
    summary = reverse("grades:class", args=[s.class_4b.pk])
    text = client.get(summary, {"period": s.periods[1].pk}).content.decode()
    assert "13,75" in text and "8,25" in text
    assert AuditEntry.objects.filter(
        action="grades.class_viewed", actor_id=s.cpe.pk, target_id=s.class_4b.pk
    ).exists()
    other = reverse("grades:class", args=[s.other_class.pk])
    assert client.get(other).status_code == 404
    assert client.get(NOTES).status_code == 200


def test_csv_export(client, marked):
    s = marked
    evaluation(s.class_4b, s.teacher, {s.pupil: "12"}, subject="Français", publish=True)
    login_verified(client, s.teacher)
    url = reverse("grades:export", args=[s.class_4b.pk])
    response = client.get(url, {"period": s.periods[1].pk})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    lines = body[1:].splitlines()
    assert lines == [
        "Nom;Prénom;Français;Mathématiques;Moyenne générale",
        "Dubois;Léa;12,00;13,75;12,88",
        "Petit;Hugo;;8,25;8,25",
    ]
    assert AuditEntry.objects.filter(action="grades.exported").count() == 1
    login_verified(client, s.outsider)
    assert client.get(url, {"period": s.periods[1].pk}).status_code == 404
    client.force_login(s.parent)
    assert client.get(url, {"period": s.periods[1].pk}).status_code == 404


def test_grid_keeps_what_was_typed_when_a_cell_is_wrong(client, marked):
    s = marked
    login_verified(client, s.teacher)
    url = reverse("grades:grid", args=[s.draft.pk])
    response = client.post(
        url,
        {
            f"mark-{s.pupil.pk}": "15,5",
            f"comment-{s.pupil.pk}": "Progrès",
            f"mark-{s.pupil2.pk}": "quinze",
            f"comment-{s.pupil2.pk}": "À revoir",
            "action": "save",
        },
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert 'value="15,5"' in text and 'value="quinze"' in text
    assert "À revoir" in text and 'aria-invalid="true"' in text
    assert "n&#x27;est pas une note" in text
    assert Mark.objects.get(evaluation=s.draft, student=s.pupil).value == 2


def test_grid_saves_then_publishes(client, marked):
    s = marked
    login_verified(client, s.teacher)
    url = reverse("grades:grid", args=[s.draft.pk])
    data = {f"mark-{s.pupil.pk}": "abs", f"mark-{s.pupil2.pk}": "18", "action": "save"}
    assert client.post(url, data).status_code == 302
    assert Evaluation.objects.get(pk=s.draft.pk).published_at is None
    assert client.post(url, {**data, "action": "publish"}).status_code == 302
    assert Evaluation.objects.get(pk=s.draft.pk).published_at is not None
    status = Mark.objects.get(evaluation=s.draft, student=s.pupil).status
    assert status == "absent"
    text = client.get(url).content.decode()
    assert "Répartition" in text and 'value="abs"' in text


def test_distribution_and_pupils_below_threshold(client, marked):
    s = marked
    login_verified(client, s.teacher)
    text = client.get(reverse("grades:grid", args=[s.maths.pk])).content.decode()
    below = text.split('id="below-threshold"')[1].split("</ul>")[0]
    assert "Hugo Petit : 8,25/20" in below
    assert "Léa" not in below


def test_create_form_with_a_comma(client, marked):
    s = marked
    login_verified(client, s.teacher)
    response = client.post(
        reverse("grades:new", args=[s.class_4b.pk]),
        {
            "title": "Oral",
            "subject": "Mathématiques",
            "date": "2026-01-20",
            "kind": "oral",
            "coefficient": "0,5",
            "out_of": "10",
        },
    )
    made = Evaluation.objects.get(title="Oral")
    assert response.status_code == 302
    assert str(made.coefficient) == "0.50" and made.period == s.periods[1]
    login_verified(client, s.outsider)
    assert client.get(reverse("grades:new", args=[s.class_4b.pk])).status_code == 404


def test_periods_page_for_staff(client, marked):
    s = marked
    login_verified(client, s.cpe)
    url = reverse("grades:periods")
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "session": s.session.pk,
            "kind": "trimester",
            "title": "Trimestre 4",
            "start_date": "2026-06-01",
            "end_date": "2026-06-30",
        },
    )
    assert "chevauche" in response.content.decode()
    assert not Period.objects.filter(title="Trimestre 4").exists()
    other_session = s.other_class.session
    response = client.post(
        url,
        {
            "session": other_session.pk,
            "kind": "trimester",
            "title": "X",
            "start_date": "2026-06-01",
            "end_date": "2026-06-30",
        },
    )
    assert not Period.objects.filter(title="X").exists()
    login_verified(client, s.teacher)
    assert client.get(url).status_code == 404


def test_teacher_list(client, marked):
    s = marked
    login_verified(client, s.teacher)
    text = client.get(NOTES, {"period": s.periods[1].pk}).content.decode()
    assert "Pythagore" in text and "Brouillon" in text and "Révolution" not in text


def test_removed_evaluation_disappears(client, marked):
    s = marked
    login_verified(client, s.teacher)
    assert client.post(reverse("grades:remove", args=[s.maths.pk])).status_code == 302
    text = page(client, s.pupil, period=s.periods[1].pk).content.decode()
    assert "Pythagore" not in text


def test_no_period_yet(client, periods):
    Period.objects.all().delete()
    client.force_login(periods.pupil)
    response = client.get(NOTES)
    assert response.status_code == 200
    assert "pas encore de période" in response.content.decode()


def test_staff_set_what_families_see(client, marked):
    s = marked
    login_verified(client, s.cpe)
    url = reverse("grades:periods")
    response = client.post(
        url,
        {
            "settings_org": s.org.pk,
            f"org{s.org.pk}-show_min_max": "on",
            f"org{s.org.pk}-not_submitted_counts_zero": "on",
            f"org{s.org.pk}-alert_below": "9,5",
        },
    )
    assert response.status_code == 302
    policy = GradesPolicy.objects.get(org=s.org)
    assert (policy.show_class_average, policy.show_min_max) == (False, True)
    assert str(policy.alert_below) == "9.50"
    assert AuditEntry.objects.filter(action="grades_policy.saved").exists()
    _five_marks(s)
    text = page(client, s.pupil, period=s.periods[1].pk).content.decode()
    assert "classe : 11" not in text and "min. 8,25" in text
    login_verified(client, s.cpe)
    bad = client.post(
        url, {"settings_org": s.org.pk, f"org{s.org.pk}-alert_below": "25"}
    )
    assert bad.status_code == 200
    assert 'value="25"' in bad.content.decode()  # what was typed stays
    assert str(GradesPolicy.objects.get(org=s.org).alert_below) == "9.50"
    assert client.post(url, {"settings_org": s.other_org.pk}).status_code == 404
    login_verified(client, s.teacher)
    assert client.post(url, {}).status_code == 404


def test_csv_cells_never_run_as_formulas(client, marked):
    s = marked
    s.pupil2.last_name = "=HYPERLINK(1)"
    s.pupil2.save()
    login_verified(client, s.teacher)
    url = reverse("grades:export", args=[s.class_4b.pk])
    body = client.get(url, {"period": s.periods[1].pk}).content.decode()
    assert "'=HYPERLINK(1);Hugo" in body


def test_csv_subject_names_never_run_as_formulas(client, marked):
    """A subject is free text when the school has no timetable: the header
    row goes through the same guard as the names."""
    import csv
    import io

    s = marked
    evaluation(
        s.class_4b,
        s.teacher,
        {s.pupil: "12"},
        subject='=HYPERLINK("http://x")',
        publish=True,
    )
    login_verified(client, s.teacher)
    url = reverse("grades:export", args=[s.class_4b.pk])
    body = client.get(url, {"period": s.periods[1].pk}).content.decode()
    header = next(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert '\'=HYPERLINK("http://x")' in header
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in header)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6", "'+33 6"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Dupont", "Dupont"),
        ("", ""),
        (12, "12"),
    ],
)
def test_the_spreadsheet_guard(text, expected):
    from core import spreadsheet

    assert spreadsheet.cell(text) == expected


def test_a_pupil_who_changed_class_sees_what_the_average_counts(
    client, periods, settings
):
    """Léa had 10 in 4e B, then moved to 3e A (same school) and had 16
    there: her page lists both marks, and the average over them, 13, is the
    one of the averages rule (and so of the report card)."""
    from core.grades import averages

    s = periods
    settings.LANGUAGE_CODE = "fr"
    evaluation(s.class_4b, s.teacher, {s.pupil: "10"}, title="En 4e B", publish=True)
    Enrollment.objects.filter(user=s.pupil, school_class=s.class_4b).delete()
    Enrollment.objects.create(user=s.pupil, school_class=s.class_3a, role="student")
    Enrollment.objects.create(user=s.teacher, school_class=s.class_3a, role="teacher")
    evaluation(s.class_3a, s.teacher, {s.pupil: "16"}, title="En 3e A", publish=True)
    found = averages.subject_averages([s.pupil.pk], s.periods[1])[s.pupil.pk]
    assert found == {"Mathématiques": 13}
    text = page(client, s.parent, child=s.pupil.pk, period=s.periods[1].pk)
    text = text.content.decode()
    assert "En 4e B" in text and "En 3e A" in text
    assert "13,00/20" in text
