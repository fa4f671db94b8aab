"""Fresh-user trial fixes on the grades pages: ISO dates in the edit forms,
French wording and plural forms, the "nr counts 0" legend, the teacher's
subject as the default."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.grades import averages
from core.grades.models import GradesPolicy, Mark, Period
from core.roster.models import AcademicSession
from tests.conftest import login_verified, make_occurrence
from tests.grades.test_views import marked  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_edit_forms_send_iso_dates(client, marked):  # noqa: F811
    s = marked
    login_verified(client, s.teacher)
    html = client.get(reverse("grades:edit", args=[s.maths.pk])).content.decode()
    assert 'value="2026-01-12"' in html
    login_verified(client, s.cpe)
    period = s.periods[0]
    html = client.get(reverse("grades:periods"), {"edit": period.pk}).content.decode()
    assert 'value="2025-09-01"' in html and 'value="2025-11-30"' in html


def test_settings_and_lists_in_plain_french(client, marked):  # noqa: F811
    s = marked
    login_verified(client, s.cpe)
    html = client.get(reverse("grades:periods")).content.decode()
    assert f"Réglages des notes — {s.org.name}" in html
    assert "Signaler les élèves en dessous de (sur 20)" in html
    assert "Montrer la note la plus basse et la plus haute" in html
    assert "Trimestre 1 · " in html and "(trimestre)" not in html
    login_verified(client, s.teacher)
    html = client.get(
        reverse("grades:index"), {"period": s.periods[1].pk}
    ).content.decode()
    assert "<span>12/01/2026</span>" in html and "· 12/01/2026" not in html


def test_families_read_numbers_with_the_same_precision(
    client,
    marked,  # noqa: F811
    monkeypatch,
):
    s = marked
    # Two results only: let families see class figures over two (the
    # five-result rule has its own tests) to read their format.
    monkeypatch.setattr(averages, "MIN_RESULTS", 2)
    GradesPolicy.objects.filter(org=s.org).update(show_min_max=True)
    client.force_login(s.parent)
    html = client.get(
        reverse("grades:index"), {"child": s.pupil.pk, "period": s.periods[1].pk}
    ).content.decode()
    # Pythagore: Léa 13,75 and Hugo 8,25: class 11,00, min 8,25, max 13,75.
    assert "classe : 11,00" in html
    assert "min. 8,25" in html and "max. 13,75" in html
    assert "plus basse : 8,25" in html and "plus haute : 13,75" in html


def test_nr_says_it_counts_0_where_it_matters(client, marked):  # noqa: F811
    s = marked
    GradesPolicy.objects.filter(org=s.org).update(not_submitted_counts_zero=True)
    Mark.objects.filter(evaluation=s.maths, student=s.pupil).update(
        value=None, status="not_submitted"
    )
    login_verified(client, s.teacher)
    html = client.get(reverse("grades:grid", args=[s.maths.pk])).content.decode()
    assert "nr (non rendu : compte 0 dans les moyennes" in html
    client.force_login(s.parent)
    html = client.get(
        reverse("grades:index"), {"child": s.pupil.pk, "period": s.periods[1].pk}
    ).content.decode()
    assert "Non rendu : compte 0 dans les moyennes" in html
    assert "non rendu (compte 0)" in html
    GradesPolicy.objects.filter(org=s.org).update(not_submitted_counts_zero=False)
    html = client.get(
        reverse("grades:index"), {"child": s.pupil.pk, "period": s.periods[1].pk}
    ).content.decode()
    assert "Non rendu : non compté dans les moyennes" in html
    assert "(compte 0)" not in html


def test_a_new_evaluation_starts_in_the_teachers_subject(client, marked):  # noqa: F811
    s = marked
    start = timezone.now() - dt.timedelta(days=7)
    make_occurrence(s.class_4b, start, subject="Accompagnement personnalisé")
    make_occurrence(s.class_4b, start, teachers=[s.teacher])  # Mathématiques
    login_verified(client, s.teacher)
    html = client.get(reverse("grades:new", args=[s.class_4b.pk])).content.decode()
    assert '<option value="Mathématiques" selected>' in html


def test_periods_are_those_of_the_classs_school_year(client, marked):  # noqa: F811
    """As on the report cards pages: a period of another school year of the
    same school is not offered."""
    s = marked
    next_year = AcademicSession.objects.create(
        org=s.org,
        title="2026-2027",
        start_date=dt.date(2026, 9, 1),
        end_date=dt.date(2027, 7, 4),
    )
    Period.objects.create(
        org=s.org,
        session=next_year,
        title="Semestre futur",
        start_date=dt.date(2026, 9, 1),
        end_date=dt.date(2027, 1, 31),
    )
    client.force_login(s.parent)
    html = client.get(reverse("grades:index"), {"child": s.pupil.pk}).content.decode()
    assert "Trimestre 1" in html and "Semestre futur" not in html
    login_verified(client, s.teacher)
    html = client.get(reverse("grades:index")).content.decode()
    assert "Trimestre 1" in html and "Semestre futur" not in html
