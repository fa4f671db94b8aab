"""Notice lists read a fixed number of queries whatever the number of
notices (the audiences are matched in Python, core.roster.audience.visible),
and a family's notice is never pushed out of their list by notices for
others (the audience is filtered before the limit)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.roster.audience import Audience
from core.schoollife import access
from core.schoollife.models import Acknowledgement, Notice
from tests.conftest import login_verified
from tests.schoollife.conftest import NOW, publish


def ok(response):
    """A page that rendered: a redirect or a 404 would cost the same for 5
    rows as for 25 and prove nothing."""
    assert response.status_code == 200, response.status_code
    return response


def add_notices(school, count: int, start: int = 0) -> None:
    """``count`` live notices of ``org`` asking for an acknowledgement, to
    audiences Karim is in and out of, alternately."""
    audiences = [
        Audience(org_id=school.org.pk, roles=frozenset({"guardian"})),
        Audience(org_id=school.org.pk, levels=frozenset({"4e"})),
        Audience(org_id=school.org.pk, roles=frozenset({"administrator"})),
        Audience(org_id=school.org.pk, class_ids=frozenset({school.class_3a.pk})),
        Audience(org_id=school.other_org.pk, roles=frozenset({"guardian"})),
    ]
    for n in range(start, start + count):
        audience = audiences[n % len(audiences)]
        moment = NOW - dt.timedelta(days=1, minutes=n)
        Notice.objects.create(
            org_id=audience.org_id,
            author=school.cpe,
            title=f"Information {n}",
            audience=audience.to_json(),
            requires_ack=True,
            publish_at=moment,
            published_at=moment,
        )


def queries_of(job) -> int:
    with CaptureQueriesContext(connection) as captured:
        job()
    return len(captured)


@pytest.mark.parametrize(
    ("who", "job"),
    [
        ("parent", lambda user, client: access.notices_for(user)),
        ("parent", lambda user, client: access.waiting_for(user)),
        ("pupil", lambda user, client: access.notices_for(user)),
        ("teacher", lambda user, client: access.notices_for(user)),
        ("parent", lambda user, client: ok(client.get("/schoollife/"))),
        ("parent", lambda user, client: ok(client.get("/"))),
        ("cpe", lambda user, client: ok(client.get("/schoollife/"))),
    ],
)
def test_lists_take_as_many_queries_for_25_notices_as_for_5(
    life, client, django_assert_max_num_queries, who, job
):
    user = getattr(life, who)
    login_verified(client, user)
    add_notices(life, 5)
    Acknowledgement.objects.create(
        notice=Notice.objects.order_by("pk").first(),
        user=life.parent,
        acknowledged_at=NOW,
    )
    job(user, client)  # sessions, caches: the first read's own costs
    five = queries_of(lambda: job(user, client))
    add_notices(life, 20, start=5)
    with django_assert_max_num_queries(five):
        job(user, client)


def test_a_guardians_notice_stays_after_60_staff_only_notices(life, client):
    """The family's notice, then 60 newer ones for school-life staff only:
    it stays in their list and on their home card while they read it."""
    theirs = publish(life, requires_ack=True, title="Autorisation de sortie")
    for n in range(60):
        publish(life, audience={"roles": ["administrator"]}, title=f"Réunion {n}")
    assert access.reads(life.parent, theirs)
    assert access.notices_for(life.parent) == [theirs]
    assert access.waiting_for(life.parent) == [theirs]
    assert len(access.notices_for(life.cpe)) == access.LIST_LIMIT
    login_verified(client, life.parent)
    assert "Autorisation de sortie" in client.get("/schoollife/").content.decode()
    assert "Autorisation de sortie" in client.get("/").content.decode()
