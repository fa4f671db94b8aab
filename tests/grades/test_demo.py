"""The demo school has trimesters and maths marks in 4e B."""

import datetime as dt

import pytest

from core.demo.school import DEMO_UAI, build_demo_school
from core.grades.models import Evaluation, Mark, Period

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("today", [dt.date(2026, 1, 20), dt.date(2026, 9, 3)])
def test_demo_grades(today):
    build_demo_school(today=today)
    assert Period.objects.filter(org__uai=DEMO_UAI).count() == 3
    evaluations = Evaluation.objects.filter(school_class__org__uai=DEMO_UAI)
    assert evaluations.filter(published_at__isnull=False).count() == 2
    assert evaluations.filter(published_at__isnull=True).count() == 1
    marks = Mark.objects.filter(evaluation__in=evaluations)
    assert marks.filter(status="absent").exists()
    assert marks.filter(value__isnull=False).count() >= 6
