"""The demo school's notices (core/schoollife/demo.py)."""

import datetime as dt

from core.demo.school import build_demo_school
from core.roster.models import User
from core.schoollife import access, actions
from core.schoollife.models import Notice


def test_the_demo_school_has_notices_to_read_and_answers(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    build_demo_school(today=dt.date(2026, 11, 30))
    assert Notice.objects.count() == 4
    parent = User.objects.get(username="parent")  # Karine, mother of Tom (4e B)
    titles = {n.title for n in access.waiting_for(parent)}
    assert titles == {"Sortie au musée des Beaux-Arts (4e)"}
    outing = Notice.objects.get(title__startswith="Sortie")
    ((done, total),) = actions.counts([outing])
    assert (done, total) == (5, 12)
    assert Notice.objects.filter(published_at__isnull=True).count() == 1
