"""Accessibility: axe-core (from npm, tests/browser/axe) on every page of every
role, at 1280 and 360 px wide: no serious or critical violation.

axe-core is the engine of the browsers' own accessibility tools; it checks
what a program can (names, roles, contrast, labels, landmarks, ARIA). Pages
are checked once the socket is connected, so the live parts are in place.
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_pages_small_screen import GRADES_SEED, HOMEWORK_SEED, SEED

AXE = (
    Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
)
WIDTHS = [1280, 360]

# Every page a role reaches from the menu, and the forms behind them.
PAGES = {
    None: ["/login/", "/mot-de-passe/oublie/", "/activer/"],
    "karim": [
        "/",
        "/timetable/?week=2026-01-19",
        "/notifications/",
        "/absences/",
        "/messages/",
        "/messages/new/",
        "/settings/notifications/",
        "/settings/password/",
        "/settings/sessions/",
        "/settings/security/",
        "/settings/api/",
        "/mes-donnees/",
        "/homework/",
        "/schoollife/",
        "/schoollife/{notice}/",
        "/grades/?child={lea}",
        "/reportcards/",
        "/agenda/",
    ],
    "lea": [
        "/",
        "/timetable/?week=2026-01-19",
        "/notifications/",
        "/messages/",
        "/homework/",
        "/schoollife/",
        "/grades/",
        "/reportcards/",
        "/agenda/",
    ],
    "alice": [
        "/",
        "/absences/",
        "/absences/roll-call/{lesson}/",
        "/timetable/mine/?week=2026-01-19",
        "/messages/",
        "/messages/new/",
        "/homework/",
        "/homework/class/{klass}/",
        "/homework/class/{klass}/sessions/",
        "/homework/{handin_homework}/handins/",
        "/grades/",
        "/grades/class/{klass}/new/",
        "/grades/{evaluation}/",
        "/grades/{evaluation}/edit/",
        "/grades/class/{klass}/",
        "/reportcards/",
        "/agenda/",
    ],
    "paul": [
        "/",
        "/absences/",
        "/messages/",
        "/messages/moderation/",
        "/delivery/log/",
        "/audit/",
        "/settings/security/",
        "/homework/",
        "/schoollife/",
        "/schoollife/new/",
        "/schoollife/{notice}/status/",
        "/grades/",
        "/grades/class/{klass}/",
        "/grades/periods/",
        "/reportcards/",
        "/agenda/",
        "/agenda/new/",
        "/agenda/evenings/new/",
    ],
}
BLOCKING = {"serious", "critical"}


# The CPE reads the audit log too (an explicit permission, as a school grants it).
GRANT_AUDIT = """
from django.contrib.auth.models import Permission
from core.roster.models import User
User.objects.get(username="paul").user_permissions.add(
    Permission.objects.get(codename="view_auditentry", content_type__app_label="audit"))
"""


@pytest.fixture(scope="module")
def lesson(live_hub) -> int:
    live_hub.shell(GRANT_AUDIT)
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


@pytest.fixture(scope="module")
def grades_ids(live_hub, lesson) -> dict:
    evaluation, lea = live_hub.shell(GRADES_SEED).split()
    return {"evaluation": evaluation, "lea": lea}


def run_axe(page) -> list[dict]:
    """Run axe-core on ``page``; return its serious and critical violations."""
    if not AXE.exists():
        pytest.fail(
            f"{AXE} is missing: `make test` installs it (npm ci --prefix tests/browser/axe)"
        )
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in BLOCKING
    ]


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("username", list(PAGES), ids=lambda u: u or "anonymous")
def test_no_serious_accessibility_violation(
    live_hub,
    browser,
    login,
    username,
    width,
    lesson,
    homework_ids,
    notice_ids,
    grades_ids,
):
    context = browser.new_context(
        base_url=live_hub.url,
        viewport={"width": width, "height": 800},
        locale="fr-FR",
        timezone_id="Europe/Paris",
        # axe is the test's script, injected inline: the page's own CSP
        # (no inline script) is checked by test_csp.py, not here.
        bypass_csp=True,
    )
    page = context.new_page()
    found = {}
    try:
        if username:
            login(page, username)
        ids = {**homework_ids, **notice_ids, **grades_ids}
        for path in (p.format(lesson=lesson, **ids) for p in PAGES[username]):
            response = page.goto(path)
            assert response.status == 200, f"{path}: HTTP {response.status}"
            if username:
                expect(page.locator("#hub-status")).to_have_attribute(
                    "data-state", "connected"
                )
            violations = run_axe(page)
            if violations:
                found[path] = violations
    finally:
        context.close()
    assert not found, found


@pytest.mark.browser
def test_the_check_finds_what_it_looks_for(page):
    """The harness itself: a page with a nameless button and an image without
    text is reported (so a clean result above means something)."""
    page.set_content(
        '<html lang="fr"><body><main><button></button><img src="x.png">'
        "</main></body></html>"
    )
    rules = {violation["rule"] for violation in run_axe(page)}
    assert {"button-name", "image-alt"} <= rules


# A lesson of its own, with a pupil and a guardian no other test uses, so the
# keyboard journeys below change nothing another test reads.
KEYBOARD_SEED = """
import datetime as dt
from zoneinfo import ZoneInfo
from core.roster.models import Enrollment, GuardianLink, SchoolClass, User
from core.timetable.models import Feed, Lesson, Occurrence
from tests.conftest import make_user
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
alice = User.objects.get(username="alice")
tom = User.objects.filter(username="theo").first()
if tom is None:
    tom = make_user("theo", User.Role.STUDENT, "Théo", "Aubert")
    yasmine = make_user("yasmine", User.Role.GUARDIAN, "Yasmine", "Aubert")
    Enrollment.objects.create(user=tom, school_class=school_class, role="student")
    GuardianLink.objects.create(guardian=yasmine, student=tom, relationship="mère")
feed, _ = Feed.objects.get_or_create(school_class=school_class, defaults={"name": "seed"})
lesson, _ = Lesson.objects.get_or_create(
    feed=feed, school_class=school_class, uid="keyboard",
    defaults={"subject": "Technologie (clavier)"})
start = dt.datetime(2026, 1, 20, 10, tzinfo=ZoneInfo("Europe/Paris"))
occurrence, _ = Occurrence.objects.get_or_create(
    lesson=lesson, recurrence_key="", defaults=dict(
        school_class=school_class, start=start, end=start + dt.timedelta(minutes=55),
        subject="Technologie (clavier)", room="Salle 4"))
occurrence.teachers.set([alice])
print(occurrence.pk, tom.pk)
"""


def tab_to(page, predicate: str, limit: int = 200) -> None:
    """Press Tab until ``predicate`` (JS, on document.activeElement) holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => {predicate})(document.activeElement)"):
            return
    pytest.fail(f"Tab never reached an element where {predicate}")


@pytest.mark.browser
def test_roll_call_then_excuse_by_keyboard_alone(live_hub, page, login):
    occurrence, tom = map(int, live_hub.shell(KEYBOARD_SEED).split())

    # The teacher marks Théo absent and saves, keys only.
    login(page, "alice")
    page.goto(f"/absences/roll-call/{occurrence}/")
    tab_to(page, f"el.name === 'status-{tom}'")
    page.keyboard.press("ArrowRight")  # present -> absent, within the group
    assert page.evaluate("document.activeElement.value") == "absent"
    tab_to(page, "el.type === 'submit'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.goto(f"/absences/roll-call/{occurrence}/")
    expect(page.locator(f"input[name='status-{tom}'][value='absent']")).to_be_checked()
    page.context.clear_cookies()

    # His mother reaches the excuse form from her absences page and sends it.
    login(page, "yasmine")
    page.goto("/absences/")
    tab_to(page, "el.tagName === 'A' && el.href.includes('/excuse/')")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, "el.name === 'reason'")
    page.keyboard.press("ArrowDown")  # the next reason of the list
    chosen = page.evaluate("document.activeElement.value")
    tab_to(page, "el.name === 'comment'")
    page.keyboard.type("Rendez-vous chez l'orthodontiste.")
    tab_to(page, "el.type === 'submit'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/excuse/" not in page.url
    state = live_hub.shell(
        "from core.attendance.models import Excuse; "
        f"e = Excuse.objects.get(record__student_id={tom}); "
        "print(e.status, e.reason, e.comment)"
    )
    assert state.split(" ", 2) == [
        "pending",
        chosen,
        "Rendez-vous chez l'orthodontiste.\n",
    ]
