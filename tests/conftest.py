"""Shared fixtures: a small school with named personas, and ``capture_events``.

Personas (Zulip and healthchecks style):
- ``teacher`` Mme Alice Martin, teaches 4e B (timetable code ``AM``);
- ``pupil`` Léa Dubois and ``pupil2`` Hugo Petit in 4e B; ``pupil3`` Chloé
  Bernard in 3e A;
- ``parent`` Karim Dubois, guardian of Léa (4e B here) and of Inès, a pupil of
  ``other_org``;
- ``other_parent`` Sophie Petit, guardian of Hugo;
- ``cpe`` Paul Girard, school-life staff of the org;
- ``outsider`` a teacher of ``other_org`` only.
"""

import contextlib
import datetime as dt
from dataclasses import dataclass

import pytest

from core.roster.actions import grant_school_life_staff
from core.roster.models import (
    AcademicSession,
    Enrollment,
    GuardianLink,
    Org,
    SchoolClass,
    User,
)


@dataclass
class School:
    org: Org
    other_org: Org
    session: AcademicSession
    class_4b: SchoolClass
    class_3a: SchoolClass
    other_class: SchoolClass
    teacher: User
    pupil: User
    pupil2: User
    pupil3: User
    other_child: User
    parent: User
    other_parent: User
    cpe: User
    outsider: User


def make_user(username: str, role: str, first: str, last: str, **extra) -> User:
    """Create an active user whose password is ``"pw-" + username``."""
    return User.objects.create_user(
        username=username,
        password="pw-" + username,
        role=role,
        first_name=first,
        last_name=last,
        **extra,
    )


def build_school() -> School:
    """Create the personas' school and a second school; return them."""
    org = Org.objects.create(name="Collège Victor Hugo", uai="0350001A")
    other_org = Org.objects.create(name="Collège Jules Verne", uai="0350002B")
    session = AcademicSession.objects.create(
        org=org,
        title="2025-2026",
        start_date=dt.date(2025, 9, 1),
        end_date=dt.date(2026, 7, 4),
    )
    other_session = AcademicSession.objects.create(
        org=other_org,
        title="2025-2026",
        start_date=dt.date(2025, 9, 1),
        end_date=dt.date(2026, 7, 4),
    )
    class_4b = SchoolClass.objects.create(org=org, session=session, title="4e B")
    class_3a = SchoolClass.objects.create(org=org, session=session, title="3e A")
    other_class = SchoolClass.objects.create(
        org=other_org, session=other_session, title="5e C"
    )
    teacher = make_user(
        "alice", User.Role.TEACHER, "Alice", "Martin", timetable_code="AM"
    )
    teacher.orgs.add(org)
    pupil = make_user("lea", User.Role.STUDENT, "Léa", "Dubois")
    pupil2 = make_user("hugo", User.Role.STUDENT, "Hugo", "Petit")
    pupil3 = make_user("chloe", User.Role.STUDENT, "Chloé", "Bernard")
    other_child = make_user("ines", User.Role.STUDENT, "Inès", "Dubois")
    parent = make_user("karim", User.Role.GUARDIAN, "Karim", "Dubois")
    other_parent = make_user("sophie", User.Role.GUARDIAN, "Sophie", "Petit")
    cpe = make_user("paul", User.Role.ADMINISTRATOR, "Paul", "Girard")
    cpe.orgs.add(org)
    grant_school_life_staff(cpe)
    outsider = make_user("oscar", User.Role.TEACHER, "Oscar", "Lenoir")
    outsider.orgs.add(other_org)
    Enrollment.objects.create(user=teacher, school_class=class_4b, role="teacher")
    Enrollment.objects.create(user=pupil, school_class=class_4b, role="student")
    Enrollment.objects.create(user=pupil2, school_class=class_4b, role="student")
    Enrollment.objects.create(user=pupil3, school_class=class_3a, role="student")
    Enrollment.objects.create(
        user=other_child, school_class=other_class, role="student"
    )
    Enrollment.objects.create(user=outsider, school_class=other_class, role="teacher")
    GuardianLink.objects.create(guardian=parent, student=pupil, relationship="père")
    GuardianLink.objects.create(
        guardian=parent, student=other_child, relationship="père"
    )
    GuardianLink.objects.create(
        guardian=other_parent, student=pupil2, relationship="mère"
    )
    return School(
        org=org,
        other_org=other_org,
        session=session,
        class_4b=class_4b,
        class_3a=class_3a,
        other_class=other_class,
        teacher=teacher,
        pupil=pupil,
        pupil2=pupil2,
        pupil3=pupil3,
        other_child=other_child,
        parent=parent,
        other_parent=other_parent,
        cpe=cpe,
        outsider=outsider,
    )


# The second factor (core/twofactor) ---------------------------------------

# RFC 6238's test key: the TOTP device tests give staff (tests/twofactor).
TEST_TOTP_KEY = "3132333435363738393031323334353637383930"


def totp_device(user):
    """The confirmed TOTP device ``"test"`` of ``user`` (created once)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _created = TOTPDevice.objects.get_or_create(
        user=user, name="test", defaults={"key": TEST_TOTP_KEY, "confirmed": True}
    )
    return device


def verify_session(client, user) -> None:
    """Mark ``client``'s session as past the second factor of ``user``, as
    the second step does (django-otp's ``login``), if ``user`` needs one."""
    from django.http import HttpRequest
    from django_otp import login as otp_login

    from core.twofactor.policy import needs_second_step

    if not needs_second_step(user):
        return
    request = HttpRequest()
    request.session = client.session
    request.user = user
    otp_login(request, totp_device(user))
    request.session.save()


def login_verified(client, user):
    """``client.force_login(user)`` then past the second factor: what a
    member of staff has after the password and the code."""
    client.force_login(user)
    verify_session(client, user)
    return client


@pytest.fixture
def school(db) -> School:
    return build_school()


@contextlib.contextmanager
def capture_events():
    """Collect the envelopes ``hub.send_event`` produces inside the block.

    Yields a list of :class:`hub.streams.Envelope`; assertions can check kinds,
    streams and payloads (Zulip's ``capture_send_event_calls``).
    """
    from hub import streams

    captured = []
    original = streams.send_event

    def spy(names, event):
        envelopes = original(names, event)
        captured.extend(envelopes)
        return envelopes

    streams.send_event = spy
    try:
        yield captured
    finally:
        streams.send_event = original


def make_occurrence(
    school_class, start, minutes=55, subject="Mathématiques", teachers=(), room="B12"
):
    """Create a scheduled one-off lesson of ``school_class`` at ``start`` (aware)."""
    from core.timetable.models import Feed, Lesson, Occurrence

    feed, _ = Feed.objects.get_or_create(
        school_class=school_class, defaults={"name": "test"}
    )
    lesson = Lesson.objects.create(
        feed=feed,
        school_class=school_class,
        uid=f"test-{Lesson.objects.count() + 1}@hub",
        subject=subject,
        room=room,
    )
    occurrence = Occurrence.objects.create(
        lesson=lesson,
        school_class=school_class,
        start=start,
        end=start + dt.timedelta(minutes=minutes),
        subject=subject,
        room=room,
    )
    occurrence.teachers.set(teachers)
    return occurrence


def pytest_collection_modifyitems(config, items):
    """Run the real-browser tests last.

    Playwright's sync API keeps its asyncio loop registered as running in the
    main thread for the whole session (the ``browser`` fixture is
    session-scoped), and an ``async`` test that comes after it cannot start
    its own loop ("Runner.run() cannot be called from a running event loop").
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture
def redis_cluster():
    """A fresh local Redis Cluster (scripts/redis_cluster.py); a missing
    redis-server is a failure, not a skip (.ci/run installs it)."""
    from scripts.redis_cluster import MissingRedis, RedisCluster

    try:
        cluster = RedisCluster().start()
    except MissingRedis as error:
        pytest.fail(f"{error} (.ci/run installs it)")
    try:
        yield cluster
    finally:
        cluster.stop()
