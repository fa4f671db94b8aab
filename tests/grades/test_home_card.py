"""The home card "Dernières notes": each child's own latest published marks."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.grades import access
from tests.grades.conftest import evaluation

pytestmark = pytest.mark.django_db


def test_guardian_home_shows_each_childs_marks_only(client, periods):
    s = periods
    evaluation(s.class_4b, s.teacher, {s.pupil: "13,5", s.pupil2: "7,25"}, publish=True)
    evaluation(s.class_4b, s.teacher, {s.pupil: "3"}, title="Brouillon")
    evaluation(
        s.other_class,
        s.outsider,
        {s.other_child: "16"},
        subject="Histoire",
        title="Révolution",
        publish=True,
    )
    client.force_login(s.parent)
    html = client.get("/").content.decode()
    assert "Dernières notes" in html
    lea = html.split(f'id="card-latest_marks-{s.pupil.pk}"')[1].split("</li>\n</")[0]
    assert "13,5/20" in lea and "Révolution" not in lea
    ines = html.split(f'id="card-latest_marks-{s.other_child.pk}"')[1]
    assert "16/20" in ines.split("card__links")[0]
    assert "7,25" not in html and "Brouillon" not in html


def test_latest_marks_one_query_and_current_classes_only(periods):
    s = periods
    evaluation(s.class_4b, s.teacher, {s.pupil: "12", s.pupil2: "9"}, publish=True)
    evaluation(
        s.other_class,
        s.outsider,
        {s.other_child: "16"},
        subject="Histoire",
        publish=True,
    )
    pupils = [s.pupil, s.pupil2, s.other_child]
    with CaptureQueriesContext(connection) as queries:
        found = access.latest_marks(pupils, 5)
    assert len(queries) == 1
    assert [str(m.value) for m in found[s.pupil.pk]] == ["12.00"]
    assert [str(m.value) for m in found[s.other_child.pk]] == ["16.00"]
    s.pupil.enrollments.all().delete()
    assert access.latest_marks([s.pupil], 5)[s.pupil.pk] == []


def test_each_child_gets_their_own_latest_marks(client, periods):
    """Léa has 41 marks newer than Inès's only one: the limit counts per
    child, so Inès's card still shows hers (page and one query)."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from core.grades.models import Evaluation, Mark

    s = periods
    evaluation(
        s.other_class,
        s.outsider,
        {s.other_child: "16"},
        subject="Histoire",
        title="Révolution",
        publish=True,
    )
    later = timezone.now() + dt.timedelta(hours=1)
    newer = Evaluation.objects.bulk_create(
        Evaluation(
            school_class=s.class_4b,
            teacher=s.teacher,
            subject="Mathématiques",
            title=f"Interro {n}",
            date=dt.date(2026, 1, 12),
            period=s.periods[1],
            coefficient=Decimal(1),
            out_of=Decimal(20),
            published_at=later + dt.timedelta(minutes=n),
        )
        for n in range(41)
    )
    Mark.objects.bulk_create(
        Mark(evaluation=e, student=s.pupil, value=Decimal(10)) for e in newer
    )
    with CaptureQueriesContext(connection) as queries:
        found = access.latest_marks([s.pupil, s.other_child], 5)
    assert len(queries) == 1
    assert [m.evaluation.title for m in found[s.pupil.pk]] == [
        f"Interro {n}" for n in (40, 39, 38, 37, 36)
    ]
    assert [m.evaluation.title for m in found[s.other_child.pk]] == ["Révolution"]
    client.force_login(s.parent)
    html = client.get("/").content.decode()
    ines = html.split(f'id="card-latest_marks-{s.other_child.pk}"')[1]
    assert "16/20" in ines.split("card__links")[0]
