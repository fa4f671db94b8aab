"""A school population made in seconds, every user already logged in.

For benchmarks and multi-process tests: one org (OneRoster ``Org``), a school
year (``AcademicSession``), ``classes`` homerooms of ``pupils`` students each
(``SchoolClass``, ``Enrollment``), optionally one teacher per class and
``guardians`` guardians per pupil (``GuardianLink``), a school-life staff
member, and a Django session for every user::

    import django; django.setup()          # with the target DATABASE_URL
    from scripts.population import populate

    school = populate(classes=200, guardians=1)   # 10,000 pupils and guardians
    school.org.pk, school.cookies()        # session ids, one per user
    school.cookie(user_id)                 # the session id of one user

Nothing is hashed per user: users get an unusable password (``"!"`` and a
random string), or one hash of ``password`` computed once and shared; rows
are inserted with ``bulk_create``. Sessions are written straight into the
session table, carrying what ``django.contrib.auth.login`` stores
(``_auth_user_id``, ``_auth_user_backend``, ``_auth_user_hash``), encoded by
the configured ``SessionStore`` with this process's ``SECRET_KEY``: the
servers must share that key (a ``scripts.topology.Topology``'s ``env`` does).
Then the hub's ``AuthMiddlewareStack`` and Django's ``AuthenticationMiddleware``
accept the cookie ``sessionid=<key>`` as if the user had logged in.

10,000 users and sessions take a few seconds on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from importlib import import_module

BATCH = 2000


@dataclass
class Population:
    """What :func:`populate` made; ids rather than model instances for users."""

    org: object
    session: object
    classes: list
    students: list[int] = field(default_factory=list)
    guardians: list[int] = field(default_factory=list)
    teachers: list[int] = field(default_factory=list)
    staff: list[int] = field(default_factory=list)
    # user id -> session key (the value of the ``sessionid`` cookie)
    sessions: dict[int, str] = field(default_factory=dict)
    usernames: dict[int, str] = field(default_factory=dict)

    @property
    def users(self) -> list[int]:
        """Every user id: students and guardians interleaved, then teachers, staff.

        Interleaved so that the first N users are a realistic mix of pupils
        and families whatever N is.
        """
        mixed: list[int] = []
        per_student = len(self.guardians) // max(1, len(self.students))
        for index, student in enumerate(self.students):
            mixed.append(student)
            mixed.extend(
                self.guardians[index * per_student : (index + 1) * per_student]
            )
        return mixed + self.teachers + self.staff

    def cookie(self, user_id: int) -> str:
        """The session id of ``user_id``."""
        return self.sessions[user_id]

    def cookies(self, count: int | None = None) -> list[str]:
        """Session ids of the first ``count`` users of :attr:`users` (all by default)."""
        users = self.users
        if count is not None:
            if count > len(users):
                raise ValueError(f"{count} sessions asked, {len(users)} users made")
            users = users[:count]
        return [self.sessions[pk] for pk in users]


def populate(
    classes: int,
    *,
    pupils: int = 25,
    guardians: int = 0,
    teachers: bool = True,
    staff: bool = True,
    password: str | None = None,
    name: str | None = None,
) -> Population:
    """Create the org, its classes, users and a session per user.

    ``guardians`` is the number of guardians per pupil (0, 1 or 2 are
    realistic). ``password`` (hashed once, shared by all) lets users log in
    through the login page too; by default passwords are unusable.
    ``name`` tags usernames and the org (default: random), so several
    populations can live in one database.
    """
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from core.roster.models import (
        AcademicSession,
        Enrollment,
        GuardianLink,
        Org,
        SchoolClass,
        User,
    )

    tag = name or secrets.token_hex(3)
    shared_hash = make_password(password) if password is not None else None

    def new_user(username: str, role: str, first: str, last: str) -> User:
        return User(
            username=username,
            password=shared_hash or make_password(None),
            role=role,
            first_name=first,
            last_name=last,
            is_active=True,
        )

    with transaction.atomic():
        org = Org.objects.create(
            name=f"Collège de la population {tag}",
            uai=(f"{secrets.randbelow(10**7):07d}" + secrets.choice("ABCDEFGHJK")),
        )
        school_year = AcademicSession.objects.create(
            org=org,
            title="2025-2026",
            start_date=dt.date(2025, 9, 1),
            end_date=dt.date(2026, 7, 4),
        )
        school_classes = SchoolClass.objects.bulk_create(
            [
                SchoolClass(org=org, session=school_year, title=f"Classe {n + 1:04d}")
                for n in range(classes)
            ],
            batch_size=BATCH,
        )
        result = Population(org=org, session=school_year, classes=school_classes)

        pupil_rows = [
            new_user(
                f"{tag}.eleve.{c}.{p}", User.Role.STUDENT, f"Élève{p}", f"Classe{c}"
            )
            for c in range(classes)
            for p in range(pupils)
        ]
        User.objects.bulk_create(pupil_rows, batch_size=BATCH)
        guardian_rows = [
            new_user(
                f"{tag}.parent.{pupil.username.split('.', 2)[2]}.{g}",
                User.Role.GUARDIAN,
                f"Parent{g}",
                pupil.last_name,
            )
            for pupil in pupil_rows
            for g in range(guardians)
        ]
        User.objects.bulk_create(guardian_rows, batch_size=BATCH)
        teacher_rows = (
            [
                new_user(f"{tag}.prof.{c}", User.Role.TEACHER, "Prof", f"Classe{c}")
                for c in range(classes)
            ]
            if teachers
            else []
        )
        staff_rows = (
            [new_user(f"{tag}.cpe", User.Role.ADMINISTRATOR, "CPE", "Vie scolaire")]
            if staff
            else []
        )
        User.objects.bulk_create(teacher_rows + staff_rows, batch_size=BATCH)

        enrollments = [
            Enrollment(
                user_id=pupil.pk,
                school_class_id=school_classes[index // pupils].pk,
                role=Enrollment.Role.STUDENT,
            )
            for index, pupil in enumerate(pupil_rows)
        ]
        enrollments += [
            Enrollment(
                user_id=teacher.pk,
                school_class_id=school_classes[c].pk,
                role=Enrollment.Role.TEACHER,
            )
            for c, teacher in enumerate(teacher_rows)
        ]
        Enrollment.objects.bulk_create(enrollments, batch_size=BATCH)
        GuardianLink.objects.bulk_create(
            [
                GuardianLink(
                    guardian_id=guardian_rows[index * guardians + g].pk,
                    student_id=pupil.pk,
                    relationship="parent",
                )
                for index, pupil in enumerate(pupil_rows)
                for g in range(guardians)
            ],
            batch_size=BATCH,
        )
        User.orgs.through.objects.bulk_create(
            [
                User.orgs.through(user_id=user.pk, org_id=org.pk)
                for user in teacher_rows + staff_rows
            ],
            batch_size=BATCH,
        )
        all_rows = pupil_rows + guardian_rows + teacher_rows + staff_rows
        result.students = [u.pk for u in pupil_rows]
        result.guardians = [u.pk for u in guardian_rows]
        result.teachers = [u.pk for u in teacher_rows]
        result.staff = [u.pk for u in staff_rows]
        result.usernames = {u.pk: u.username for u in all_rows}
        result.sessions = create_sessions(all_rows)
    return result


def create_sessions(users) -> dict[int, str]:
    """Write one logged-in session per user (no request, no hashing).

    Returns ``{user id: session key}``. The session carries exactly what
    ``django.contrib.auth.login`` stores, so it passes the checks of
    ``get_user`` (backend listed, ``_auth_user_hash`` matching the password),
    and, for staff, django-otp's ``otp_device_id`` (the second factor passed).
    Needs a database-backed ``SESSION_ENGINE`` (the default).
    """
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone
    from django.utils.crypto import get_random_string
    from django_otp import DEVICE_ID_SESSION_KEY

    from core.accounts.models import UserSession

    # The backend a password login records (the first one, the lockout,
    # only refuses).
    backend = "django.contrib.auth.backends.ModelBackend"
    engine = import_module(settings.SESSION_ENGINE)
    store_class = engine.SessionStore
    if not hasattr(store_class, "get_model_class"):
        raise RuntimeError(
            f"{settings.SESSION_ENGINE} is not database-backed; "
            "create_sessions writes session rows"
        )
    model = store_class.get_model_class()
    store = store_class()
    expire = timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"  # Django's VALID_KEY_CHARS
    keys: dict[int, str] = {}
    rows = []
    devices = second_factors(users)
    for user in users:
        key = get_random_string(32, chars)
        keys[user.pk] = key
        data = {
            SESSION_KEY: user._meta.pk.value_to_string(user),
            BACKEND_SESSION_KEY: backend,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        if user.pk in devices:
            data[DEVICE_ID_SESSION_KEY] = devices[user.pk]
        rows.append(
            model(session_key=key, session_data=store.encode(data), expire_date=expire)
        )
    model.objects.bulk_create(rows, batch_size=BATCH)
    # And, as a login does (core.accounts.sessions.record_login), the row
    # that says whose each session is (the socket reads it with the session).
    UserSession.objects.bulk_create(
        (UserSession(session_key=key, user_id=pk) for pk, key in keys.items()),
        batch_size=BATCH,
    )
    return keys


def second_factors(users) -> dict[int, str]:
    """``{user id: device id}`` of a TOTP device for each user who must pass a
    second factor (core/twofactor: staff), created once: their sessions
    carry it as django-otp's ``login`` leaves it after a right code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from core.twofactor.policy import must_have_second_factor

    staff = [user for user in users if must_have_second_factor(user)]
    have = set(
        TOTPDevice.objects.filter(user__in=staff, name="population").values_list(
            "user_id", flat=True
        )
    )
    TOTPDevice.objects.bulk_create(
        TOTPDevice(user=user, name="population", confirmed=True)
        for user in staff
        if user.pk not in have
    )
    return {
        device.user_id: device.persistent_id
        for device in TOTPDevice.objects.filter(user__in=staff, name="population")
    }
