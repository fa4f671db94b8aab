"""Every persona's pages fit a 360 px wide phone screen, in French."""

import pytest
from playwright.sync_api import expect

PAGES = {
    "karim": [
        "/",
        "/timetable/?week=2026-01-19",
        "/notifications/",
        "/absences/",
        "/homework/",
        "/schoollife/",
        "/schoollife/{notice}/",
        "/grades/?child={lea}",
        "/reportcards/",
    ],
    "alice": [
        "/",
        "/absences/",
        "/absences/roll-call/{lesson}/",
        "/timetable/mine/?week=2026-01-19",
        "/homework/",
        "/homework/class/{klass}/",
        "/homework/class/{klass}/sessions/",
        "/homework/{handin_homework}/handins/",
        "/grades/",
        "/grades/class/{klass}/new/",
        "/grades/{evaluation}/",
        "/grades/class/{klass}/",
        "/reportcards/",
    ],
    "lea": [
        "/",
        "/notifications/",
        "/homework/",
        "/schoollife/",
        "/grades/",
        "/reportcards/",
    ],
    "paul": [
        "/",
        "/absences/",
        "/homework/",
        "/schoollife/",
        "/schoollife/new/",
        "/schoollife/{notice}/status/",
        "/grades/",
        "/grades/periods/",
        "/reportcards/",
    ],
}

# A lesson of 4e B for alice's roll call, Léa absent there with a pending excuse
# (a card in paul's queue), and a pupil with a long name in the class.
SEED = """
import datetime as dt
from zoneinfo import ZoneInfo
from core.attendance.actions import submit_excuse, take_roll_call
from core.roster.models import Enrollment, SchoolClass, User
from core.timetable.models import Feed, Lesson, Occurrence
from tests.conftest import make_user
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
feed, _ = Feed.objects.get_or_create(school_class=school_class, defaults={"name": "seed"})
alice, lea = User.objects.get(username="alice"), User.objects.get(username="lea")
lesson, created = Lesson.objects.get_or_create(
    feed=feed, school_class=school_class, uid="small-screen",
    defaults={"subject": "Sciences de la vie et de la Terre"})
start = dt.datetime(2026, 1, 19, 15, tzinfo=ZoneInfo("Europe/Paris"))
occurrence, _ = Occurrence.objects.get_or_create(
    lesson=lesson, recurrence_key="", defaults=dict(
        school_class=school_class, start=start, end=start + dt.timedelta(minutes=55),
        subject="Sciences de la vie et de la Terre", room="Labo 2"))
occurrence.teachers.set([alice])
if created:
    long = make_user("marie", User.Role.STUDENT, "Marie-Charlotte", "Van den Berghe-Lefebvre")
    Enrollment.objects.create(user=long, school_class=school_class, role="student")
    roll_call = take_roll_call(occurrence=occurrence, teacher=alice,
                               marks={lea.pk: ("absent", None)})
    submit_excuse(record=roll_call.records.get(student=lea),
                  guardian=User.objects.get(username="karim"), reason="transport",
                  comment="Le car scolaire de la ligne 12 n'est pas passé ce matin-là.")
print(occurrence.pk)
"""


# Homework of 4e B (one to hand in, handed in by Léa, with a long file name).
HOMEWORK_SEED = """
import datetime as dt
from django.utils import timezone
from core.homework import actions
from core.homework.models import Homework
from core.homework.uploads import CheckedFile
from core.roster.models import SchoolClass, User
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
alice, lea = User.objects.get(username="alice"), User.objects.get(username="lea")
subject = "Sciences de la vie et de la Terre"
homework = Homework.objects.filter(school_class=school_class, title="Compte rendu du TP").first()
if homework is None:
    day = timezone.localdate() + dt.timedelta(days=2)
    actions.set_homework(teacher=alice, school_class=school_class, subject=subject,
        title="Réviser la digestion", kind="test", due_date=day,
        text="Chapitre 3, schémas compris : https://www.example.org/svt/chapitre-3-la-digestion-et-les-enzymes")
    homework = actions.set_homework(teacher=alice, school_class=school_class, subject=subject,
        title="Compte rendu du TP", due_date=day, handin_required=True)
    actions.hand_in(homework=homework, student=lea, upload=CheckedFile(
        name="compte-rendu-du-tp-de-sciences-de-la-vie-et-de-la-terre-version-finale.pdf",
        mime="application/pdf", data=b"%PDF-1.4\\n%%EOF\\n"))
print(school_class.pk, homework.pk)
"""


# Grades: 4e B's trimesters and a published evaluation in the lesson's
# subject (Léa 14,5 with a comment and a skill, Hugo absent).
GRADES_SEED = """
import datetime as dt
from decimal import Decimal
from core.grades import actions
from core.grades.models import Evaluation, Period, Skill
from core.roster.models import SchoolClass, User
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
alice, lea, hugo = (User.objects.get(username=n) for n in ("alice", "lea", "hugo"))
for title, start, end in [
    ("Trimestre 1", dt.date(2025, 9, 1), dt.date(2025, 11, 30)),
    ("Trimestre 2", dt.date(2025, 12, 1), dt.date(2026, 2, 28)),
    ("Trimestre 3", dt.date(2026, 3, 1), dt.date(2026, 7, 4)),
]:
    Period.objects.get_or_create(org=school_class.org, session=school_class.session,
        title=title, defaults={"start_date": start, "end_date": end})
evaluation = Evaluation.objects.filter(title="Contrôle : la digestion").first()
if evaluation is None:
    skill = Skill.objects.get(code="D4")
    evaluation = actions.create_evaluation(teacher=alice, school_class=school_class,
        subject="Sciences de la vie et de la Terre", title="Contrôle : la digestion",
        date=dt.date(2026, 6, 1), kind="test", coefficient=Decimal(2),
        out_of=Decimal(20), period=None, skills=[skill])
    actions.save_marks(evaluation=evaluation, teacher=alice, entries={
        lea.pk: actions.Entry(mark="14,5", comment="Schémas soignés, conclusion à développer.",
                              skills={skill.pk: "3"}),
        hugo.pk: actions.Entry(mark="abs")})
    actions.publish(evaluation=evaluation, teacher=alice)
print(evaluation.pk, lea.pk)
"""


@pytest.fixture(scope="module")
def grades_ids(live_hub, lesson) -> dict:
    evaluation, lea = live_hub.shell(GRADES_SEED).split()
    return {"evaluation": evaluation, "lea": lea}


@pytest.fixture(scope="module")
def lesson(live_hub) -> int:
    return int(live_hub.shell(SEED).strip())


@pytest.fixture(scope="module")
def homework_ids(live_hub, lesson) -> dict:
    klass, handin_homework = live_hub.shell(HOMEWORK_SEED).split()
    return {"klass": klass, "handin_homework": handin_homework}


# A notice of the CPE to 4e B's guardians asking for an authorisation, with
# a long title and a file (school life).
NOTICE_SEED = """
from core.homework.uploads import CheckedFile
from core.roster.models import Org, User
from core.schoollife import actions
from core.schoollife.models import Notice
notice = Notice.objects.filter(title__startswith="Sortie pédagogique").first()
if notice is None:
    notice = actions.publish_notice(
        author=User.objects.get(username="paul"), org=Org.objects.get(uai="0350001A"),
        title="Sortie pédagogique au musée des Beaux-Arts et au jardin botanique",
        body="Départ à 8 h devant le collège. **Prévoir** un pique-nique : https://www.example.org/sorties/2026/musee-des-beaux-arts-et-jardin-botanique",
        audience={"roles": ["guardian"], "levels": ["4e"]}, reply_kind="yes_no",
        attachments=[CheckedFile(name="autorisation-de-sortie.pdf", mime="application/pdf",
                                 data=b"%PDF-1.4\\n%%EOF\\n")])
print(notice.pk)
"""


@pytest.fixture(scope="module")
def notice_ids(live_hub) -> dict:
    return {"notice": live_hub.shell(NOTICE_SEED).strip()}


@pytest.mark.browser
@pytest.mark.parametrize("username", sorted(PAGES))
def test_pages_fit_360_px(
    live_hub,
    browser,
    login,
    screens_dir,
    username,
    lesson,
    homework_ids,
    notice_ids,
    grades_ids,
):
    context = browser.new_context(
        base_url=live_hub.url, viewport={"width": 360, "height": 740}, locale="fr-FR"
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    failed = []  # e.g. /favicon.ico when no icon is declared
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and failed.append(f"{response.status} {response.url}")
        ),
    )
    try:
        login(page, username)
        ids = {**homework_ids, **notice_ids, **grades_ids}
        for path in (p.format(lesson=lesson, **ids) for p in PAGES[username]):
            response = page.goto(path)
            assert response.status == 200, f"{path}: HTTP {response.status}"
            expect(page.locator("html")).to_have_attribute("lang", "fr")
            expect(page.locator("#hub-status")).to_have_attribute(
                "data-state", "connected"
            )
            width = page.evaluate("document.scrollingElement.scrollWidth")
            name = path.strip("/").split("?")[0].replace("/", "-") or "home"
            name = name.replace(f"-{lesson}", "")
            for value in ids.values():
                name = name.replace(f"-{value}", "")
            page.screenshot(
                path=str(screens_dir / f"{username}-{name}-360.png"), full_page=True
            )
            assert width <= 360, f"{path} is {width} px wide for {username}"
            # Tables fit as they are, without scrolling inside a wrapper.
            right = page.evaluate(
                "Math.max(0, ...[...document.querySelectorAll('table')]"
                ".map(t => t.getBoundingClientRect().right))"
            )
            assert right <= 360, f"a table of {path} ends at {right} px for {username}"
        assert not errors, errors
        assert not failed, failed
    finally:
        context.close()
