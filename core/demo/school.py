"""The demo school: an invented collège in the Grand Est, built deterministically.

Every name is fictitious. Each class gets a collège's weekly timetable as an
iCalendar feed (:mod:`core.demo.calendars`) imported through the same
importer as a school's export: 3e A in the 2025-26 school year (its later
version is `make demo-after`), 4e B and 5e C in the current one, plus a
lesson starting when the demo starts (:func:`ensure_lesson_now`) so a teacher
can always try the roll call.
"""

import datetime as dt
import random
from base64 import b32encode
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from core.demo.calendars import (
    WEEK_4B,
    WEEK_5C,
    class_3a_before,
    weekly_calendar,
)
from core.messaging.actions import start_conversation
from core.messaging.models import Conversation
from core.roster.actions import grant_school_life_staff
from core.roster.models import (
    AcademicSession,
    Enrollment,
    GuardianLink,
    Org,
    SchoolClass,
    User,
)
from core.timetable.actions import import_feed
from core.timetable.holidays import HOLIDAYS_CSV, load_holidays
from core.timetable.models import Lesson, Occurrence

DEMO_UAI = "0679999E"  # valid RNE check letter, no real school has it
PASSWORD = "demo1234"
# The demo's staff must pass a second factor like any staff (core/twofactor):
# they share this authenticator-app key, printed by run_demo and in the
# README (add it to an app, or `make demo-code` prints the current code).
DEMO_TOTP_KEY = b"HubENT-demo-2FA-2026"
DEMO_TOTP_SECRET = b32encode(DEMO_TOTP_KEY).decode()  # JB2WERKOKQWWIZLN…
# The class of the 2025-26 school year whose timetable `make demo-after` changes.
CLASS_3A = "3e A"

FIRST_NAMES = [
    "Léa",
    "Lucas",
    "Emma",
    "Hugo",
    "Chloé",
    "Nathan",
    "Manon",
    "Enzo",
    "Jade",
    "Louis",
    "Inès",
    "Gabriel",
    "Camille",
    "Raphaël",
    "Zoé",
    "Arthur",
    "Lina",
    "Théo",
    "Elsa",
    "Noah",
    "Maëlys",
    "Jules",
    "Anaïs",
    "Adam",
]
LAST_NAMES = [
    "Moreau",
    "Schmitt",
    "Muller",
    "Klein",
    "Weber",
    "Meyer",
    "Roth",
    "Lambert",
    "Girard",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Fischer",
    "Hoffmann",
    "Bauer",
    "Lefèvre",
    "Mercier",
    "Dupont",
    "Garnier",
]


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    description: str


def school_year_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """Return the first and last day of the French school year holding ``day``."""
    start_year = day.year if day.month >= 8 else day.year - 1
    return dt.date(start_year, 9, 1), dt.date(start_year + 1, 7, 4)


def build_demo_school(*, today: dt.date | None = None) -> list[Account]:
    """Create the demo school once; return the demo accounts.

    Idempotent: when the demo org exists it only returns the accounts.
    """
    if not Org.objects.filter(uai=DEMO_UAI).exists():
        _build(today or timezone.localdate())
    ensure_demo_second_factor()
    return demo_accounts()


def ensure_demo_second_factor() -> None:
    """Give each member of the demo's staff the demo's authenticator app
    (:data:`DEMO_TOTP_KEY`), once: without it, logging in as them would
    start with enrolment."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from core.twofactor.policy import must_have_second_factor

    staff = User.objects.filter(orgs__uai=DEMO_UAI).distinct()
    for user in staff:
        if must_have_second_factor(user):
            TOTPDevice.objects.get_or_create(
                user=user,
                name="démo",
                defaults={"key": DEMO_TOTP_KEY.hex(), "confirmed": True},
            )


def demo_code() -> str:
    """The demo app's code of the moment (what a phone would show)."""
    from django_otp.oath import totp

    return f"{totp(DEMO_TOTP_KEY):06d}"


def demo_accounts() -> list[Account]:
    """Return the accounts to print, in the order a visitor tries them."""
    guardian_of_two = User.objects.get(username="parent")
    children = ", ".join(
        f"{c.first_name} ({c.enrollments.first().school_class.title})"  # type: ignore[union-attr]  # seeded
        for c in guardian_of_two.children.all().order_by("first_name")
    )
    return [
        Account("parent", "guardian", f"parent de deux enfants : {children}"),
        Account("prof", "teacher", "professeure principale de 4e B, cours du jour"),
        Account("prof.om", "teacher", "professeur d'histoire-géographie (3e A, 4e B)"),
        Account("eleve", "student", "élève de 3e A (emploi du temps qui change)"),
        Account("cpe", "administrator", "CPE, vie scolaire"),
        Account("admin", "administrator", "administration Django (/admin/)"),
    ]


@transaction.atomic
def _build(today: dt.date) -> None:
    rng = random.Random(2026)
    load_holidays(HOLIDAYS_CSV)
    org = Org.objects.create(name="Collège des Tilleuls", uai=DEMO_UAI)
    past = AcademicSession.objects.create(
        org=org,
        title="2025-2026",
        start_date=dt.date(2025, 9, 1),
        end_date=dt.date(2026, 7, 4),
    )
    start, end = school_year_of(today)
    current = past
    if start != past.start_date:
        current = AcademicSession.objects.create(
            org=org, title=f"{start.year}-{end.year}", start_date=start, end_date=end
        )

    # Argon2 costs ~0.5 s a hash here: hash the shared demo password once.
    hashed = make_password(PASSWORD)

    def user(username, role, first, last, **extra):
        u = User.objects.create(
            username=username,
            password=hashed,
            role=role,
            first_name=first,
            last_name=last,
            email=f"{username}@demo.invalid",
            **extra,
        )
        if role in (User.Role.TEACHER, User.Role.ADMINISTRATOR):
            u.orgs.add(org)
        return u

    # The timetables name teachers in full (core/demo/calendars.py): the
    # importer links these accounts to their lessons by name.
    prof = user("prof", User.Role.TEACHER, "Claire", "Fontaine")
    prof_om = user("prof.om", User.Role.TEACHER, "Olivier", "Marchal")
    prof_tv = user("prof.tvil", User.Role.TEACHER, "Thomas", "Villard")
    cpe = user("cpe", User.Role.ADMINISTRATOR, "Nadia", "Benali")
    admin = user("admin", User.Role.ADMINISTRATOR, "Marc", "Antoine")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    grant_school_life_staff(cpe)
    # The CPE reads the school's audit log (/audit/); teachers do not.
    cpe.user_permissions.add(
        Permission.objects.get(
            codename="view_auditentry", content_type__app_label="audit"
        )
    )
    del cpe

    class_3a = SchoolClass.objects.create(org=org, session=past, title=CLASS_3A)
    class_4b = SchoolClass.objects.create(org=org, session=current, title="4e B")
    class_5c = SchoolClass.objects.create(org=org, session=current, title="5e C")
    for teacher, school_class in [
        (prof_om, class_3a),
        (prof_tv, class_3a),
        (prof_om, class_4b),
        (prof, class_4b),
        (prof, class_5c),
    ]:
        Enrollment.objects.create(
            user=teacher, school_class=school_class, role="teacher"
        )

    names = [(f, last) for f in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(names)
    pupils: dict = {}
    for school_class, size in [(class_3a, 12), (class_4b, 12), (class_5c, 10)]:
        pupils[school_class] = []
        for index in range(size):
            first, last = names.pop()
            username = (
                f"eleve.{school_class.title.replace(' ', '').lower()}.{index + 1}"
            )
            pupil = user(username, User.Role.STUDENT, first, last)
            Enrollment.objects.create(
                user=pupil, school_class=school_class, role="student"
            )
            pupils[school_class].append(pupil)

    # The named accounts: one pupil of 3e A, a guardian of two (3e A and 4e B).
    lea = pupils[class_3a][0]
    lea.username, lea.first_name, lea.last_name = "eleve", "Léa", "Moreau"
    lea.save()
    tom = pupils[class_4b][0]
    tom.first_name, tom.last_name = "Tom", "Moreau"
    tom.save()
    parent = user("parent", User.Role.GUARDIAN, "Karine", "Moreau")
    GuardianLink.objects.create(guardian=parent, student=lea, relationship="mère")
    GuardianLink.objects.create(guardian=parent, student=tom, relationship="mère")
    for members in pupils.values():
        for pupil in members:
            if pupil in (lea, tom):
                continue
            guardian = user(
                f"parent.{pupil.username.removeprefix('eleve.')}",
                User.Role.GUARDIAN,
                rng.choice(
                    ["Sandrine", "Julien", "Céline", "Nicolas", "Aurélie", "David"]
                ),
                pupil.last_name,
            )
            GuardianLink.objects.create(guardian=guardian, student=pupil)

    import_feed(
        school_class=class_3a,
        data=class_3a_before(past.start_date, past.end_date),
        name="demo-3e A.ics",
    )
    for school_class, lessons in [(class_4b, WEEK_4B), (class_5c, WEEK_5C)]:
        import_feed(
            school_class=school_class,
            data=weekly_calendar(
                school_class.title.replace(" ", "").lower(),
                lessons,
                current.start_date,
                current.end_date,
            ),
            name=f"demo-{school_class.title}.ics",
        )
    from core.homework.demo import seed_demo as seed_homework

    seed_homework(class_4b, prof)
    from core.schoollife.demo import seed_demo as seed_notices

    seed_notices(org, User.objects.get(username="cpe"))
    from core.grades.demo import seed_demo as seed_grades

    seed_grades(class_4b, prof)
    from core.reportcards.demo import seed_demo as seed_report_cards

    seed_report_cards(class_4b, prof, User.objects.get(username="cpe"))
    from core.agenda.demo import seed_demo as seed_agenda

    seed_agenda(class_4b, prof, User.objects.get(username="cpe"))
    from core.documents.demo import seed_demo_documents

    seed_demo_documents(prof, class_4b)
    start_conversation(
        sender=prof,
        org=org,
        subject="Sortie au musée Unterlinden",
        recipients=User.objects.filter(children__in=pupils[class_4b]).distinct(),
        body=(
            "Bonjour,\n\nLa **4e B** visitera le musée Unterlinden de Colmar "
            "le *jeudi 10 décembre*. Merci de rendre l'autorisation de sortie "
            "avant lundi.\n\n- départ 8 h 15 devant le collège\n"
            "- retour vers 16 h 30\n\nCordialement,\nClaire Fontaine"
        ),
        idempotency_key="demo-sortie-4eb",
        reply_policy=Conversation.ReplyPolicy.SENDER,
    )


def ensure_lesson_now(*, now: dt.datetime | None = None) -> Occurrence:
    """Give the demo's 4e B a lesson of ``prof`` that has just begun, once a day.

    Whatever the day ``make run`` starts on (a Sunday, a holiday), the teacher
    can take a roll call at once; left untaken, it is flagged 15 minutes
    later. Starts at ``now`` (local) rounded down to 5 minutes, lasts 55.
    Returns the lesson (the existing one when today's was already made).
    """
    now = timezone.localtime(now)
    school_class = SchoolClass.objects.get(org__uai=DEMO_UAI, title="4e B")
    uid = f"4eb-now-{now:%Y%m%d}@demo.hub-ent"
    existing = Occurrence.objects.filter(lesson__uid=uid).first()
    if existing:
        return existing
    start = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    subject = "Accompagnement personnalisé"
    with transaction.atomic():
        lesson = Lesson.objects.create(
            feed=school_class.feeds.get(),
            school_class=school_class,
            uid=uid,
            subject=subject,
            room="B12",
            teacher_names="Claire Fontaine",
        )
        occurrence = Occurrence.objects.create(
            lesson=lesson,
            school_class=school_class,
            start=start,
            end=start + dt.timedelta(minutes=55),
            subject=subject,
            room="B12",
            teacher_names="Claire Fontaine",
        )
        occurrence.teachers.set(User.objects.filter(username="prof"))
    return occurrence
