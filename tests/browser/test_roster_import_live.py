"""An IT lead uploads a real AAF roster in the admin and watches it import.

The live hub serves pages but runs no task worker, so the test starts
one (``manage.py db_worker``, as ``make run`` does) against the hub's
database, once the import's page is open and waiting. The import's page follows the admin's
``user:<id>`` stream: the progress bar moves and the report appears
without a reload, and the people of the file exist afterwards.
"""

import subprocess
import sys
import time

import pytest

from tests.browser.conftest import REPO, stop

AAF_SET = [
    "aaf/FULL_ENTTSSERVICES_Complet_20130117_EtabEducNat_0000.xml",
    "aaf/FULL_ENTTSSERVICES_Complet_20130117_MatiereEducNat_0000.xml",
    "aaf/FULL_ENTTSSERVICES_Complet_20130117_Eleve_0001.xml",
    "aaf/clean-FULL_ENTTSSERVICES_Complet_20130117_PersRelEleve_0000.xml",
    "aaf/clean-FULL_ENTTSSERVICES_Complet_20130117_PersRelEleve_0034.xml",
]

# Records, on the page, every state the live part of the import goes through
# (status and progress bar), so the test can tell it moved without a reload.
WATCH = """() => {
  window.__sameDocument = true;
  window.__states = [];
  const box = document.getElementById("roster-import-state");
  const note = () => {
    const bar = box.querySelector("progress");
    const live = box.querySelector(".roster-live");
    window.__states.push({
      status: live ? live.dataset.status : "",
      value: bar && bar.hasAttribute("value") ? bar.value : null,
      max: bar ? bar.max : null,
    });
  };
  note();
  new MutationObserver(note).observe(box, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
}"""


@pytest.fixture
def task_worker(live_hub):
    """Return ``start()``, which runs ``manage.py db_worker`` on the live
    hub's database (as ``make run`` does) until the test ends."""
    started = []
    log = open(live_hub.var_dir / "worker.log", "a")  # noqa: SIM115

    def start() -> subprocess.Popen:
        worker = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--queue-name",
                "default",
                "--interval",
                "0.2",
            ],
            cwd=REPO,
            env=live_hub.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            stop(worker)
        log.close()


# The schools of AAF_SET's EtabEducNat file (their UAIs).
AAF_SCHOOLS = [
    "0049951V",
    "0049952W",
    "0059951P",
    "0059952R",
    "1004001V",
    "1004002D",
    "1005001R",
    "1005002Z",
    "1013001F",
    "1013002Z",
]


@pytest.fixture(scope="module")
def it_lead(live_hub) -> str:
    """A staff member who may add roster imports; returns the username."""
    live_hub.shell(
        "from django.contrib.auth.models import Permission\n"
        "from tests.conftest import make_user\n"
        "user = make_user('it.lead', 'administrator', 'Nora', 'Lambert')\n"
        "user.is_staff = True\n"
        "user.save()\n"
        # The académie's schools exist and are hers: an import touches only
        # the uploader's schools (only superusers create schools).
        "from core.roster.models import Org\n"
        f"for uai in {AAF_SCHOOLS!r}:\n"
        "    user.orgs.add(Org.objects.get_or_create(uai=uai, "
        "defaults={'name': uai})[0])\n"
        "user.user_permissions.add(Permission.objects.get("
        "content_type__app_label='roster', codename='add_rosterimport'))\n"
    )
    return "it.lead"


def count_aaf_people(live_hub) -> int:
    return int(
        live_hub.shell(
            "from core.roster.models import User\n"
            "print(User.objects.filter(source='aaf').count())"
        ).strip()
    )


@pytest.mark.browser
def test_it_lead_uploads_an_aaf_roster_and_watches_it_import_live(
    page, login, live_hub, task_worker, it_lead, screens_dir
):
    # The live hub is shared by the session's browser tests: others may
    # have made AAF-sourced accounts of their own.
    before = count_aaf_people(live_hub)
    login(page, it_lead)

    # The admin's home leads to the upload page.
    page.goto("/admin/")
    page.get_by_role("link", name="Importer un annuaire").first.click()
    page.wait_for_url("**/admin/roster/rosterimport/upload/")
    assert page.get_by_role("heading", name="Importer un annuaire").is_visible()
    page.set_input_files("#id_files", [str(live_hub.data_file(f)) for f in AAF_SET])
    page.set_viewport_size({"width": 360, "height": 800})
    page.screenshot(path=str(screens_dir / "roster-upload-360.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})

    with page.expect_navigation():
        page.get_by_role("button", name="Lancer l’import").click()
    assert "/report/" in page.url
    status = page.locator("#roster-import-status")
    assert status.get_attribute("data-status") == "queued"
    page.get_by_text("En attente d’un processus de tâches").wait_for()
    page.set_viewport_size({"width": 360, "height": 800})
    page.screenshot(path=str(screens_dir / "roster-queued-360.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})

    # Only now a worker takes the task: the page, already open and
    # subscribed, must follow the import from start to end by itself.
    page.evaluate(WATCH)
    page.wait_for_function("() => window.rosterImportPage?.hub.state === 'connected'")
    started = time.monotonic()
    task_worker()

    page.wait_for_selector("#roster-import-status[data-status=done]", timeout=120_000)
    elapsed = time.monotonic() - started
    assert page.evaluate("window.__sameDocument") is True  # no reload
    states = page.evaluate("window.__states")
    statuses = [state["status"] for state in states]
    assert statuses[0] == "queued" and statuses[-1] == "done"
    assert "running" in statuses, states
    moving = [s["value"] for s in states if s["status"] == "running" and s["value"]]
    assert moving, states  # the bar moved before the end
    print(
        f"\nroster import live: done {elapsed:.1f} s after the worker started, "
        f"{len(states)} page states, bar values while running: {moving}"
    )
    bar = page.locator("#roster-import-progress")
    assert bar.get_attribute("value") == bar.get_attribute("max")

    # The report came with the last event: counts per kind.
    counts = page.locator("#roster-counts")
    assert counts.is_visible()
    people = counts.locator("tr[data-kind=person] td").first
    created = int(people.inner_text().replace("\u202f", "").replace(" ", ""))
    assert created > 0
    assert not page.js_errors, page.js_errors
    page.screenshot(path=str(screens_dir / "roster-import-1280.png"))
    page.set_viewport_size({"width": 360, "height": 800})
    page.screenshot(path=str(screens_dir / "roster-import-360.png"))
    page.locator("#rejections").scroll_into_view_if_needed()
    page.screenshot(path=str(screens_dir / "roster-import-rejections-360.png"))

    # The people of the file exist now, and a reload shows the same report.
    assert count_aaf_people(live_hub) == before + created
    page.reload()
    assert page.locator("#roster-import-status").get_attribute("data-status") == "done"
    assert page.locator("#roster-counts").is_visible()


@pytest.mark.browser
def test_an_unreadable_file_fails_live_with_its_reason(
    page, login, live_hub, task_worker, it_lead, screens_dir, tmp_path
):
    notes = tmp_path / "compte-rendu.txt"
    notes.write_text("Conseil de classe du 3e trimestre\n", encoding="utf-8")
    login(page, it_lead)
    page.goto("/admin/roster/rosterimport/upload/")
    page.check("#id_dry_run")
    page.set_input_files("#id_files", str(notes))
    with page.expect_navigation():
        page.get_by_role("button", name="Lancer l’import").click()
    page.evaluate(WATCH)
    page.wait_for_function("() => window.rosterImportPage?.hub.state === 'connected'")
    task_worker()

    page.wait_for_selector("#roster-import-status[data-status=failed]", timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True
    assert page.get_by_role("heading", name="L’import a échoué").is_visible()
    error = page.locator("#roster-import-error").inner_text()
    assert "compte-rendu.txt" in error and "format non reconnu" in error
    assert "Simulation" in page.locator("dl.roster-facts").inner_text()
    assert not page.js_errors, page.js_errors
    page.set_viewport_size({"width": 360, "height": 800})
    page.screenshot(path=str(screens_dir / "roster-import-failed-360.png"))


@pytest.mark.browser
def test_a_refused_upload_shows_its_errors_in_the_page(
    page, login, live_hub, it_lead, tmp_path
):
    empty = tmp_path / "users.csv"
    empty.write_bytes(b"")
    login(page, it_lead)
    page.goto("/admin/roster/rosterimport/upload/")
    page.evaluate("window.__sameDocument = true")
    page.set_input_files("#id_files", str(empty))
    page.get_by_role("button", name="Lancer l’import").click()
    page.get_by_text("Le fichier « users.csv » est vide.").wait_for()
    assert page.get_by_text("L’import n’a pas démarré").is_visible()
    assert page.evaluate("window.__sameDocument") is True  # sent without a reload
    # The form that came back is sent the same way.
    page.set_input_files("#id_files", [])
    page.get_by_role("button", name="Lancer l’import").click()
    page.get_by_text("Choisissez au moins un fichier à importer.").wait_for()
    assert page.evaluate("window.__sameDocument") is True
    assert "/upload/" in page.url
    assert not page.js_errors, page.js_errors


@pytest.mark.browser
def test_the_upload_page_shows_the_bytes_sent(
    page, login, live_hub, it_lead, screens_dir
):
    login(page, it_lead)
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto("/admin/roster/rosterimport/upload/")
    # A slow school line: 300 KiB/s up, so the 1.7 MB file takes seconds.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 20,
            "downloadThroughput": -1,
            "uploadThroughput": 300 * 1024,
        },
    )
    page.check("#id_dry_run")
    page.set_input_files("#id_files", str(live_hub.data_file(AAF_SET[2])))
    page.get_by_role("button", name="Lancer l’import").click()
    # A function, not an expression: Playwright would eval() an expression
    # in the page, which the Content-Security-Policy refuses.
    page.wait_for_function(
        "() => { const bar = document.getElementById('roster-upload-progress');"
        " return bar && !bar.hidden && bar.value > 0 && bar.value < bar.max; }"
    )
    assert page.locator("#roster-upload-percent").inner_text().endswith("%")
    assert page.get_by_role("button", name="Lancer l’import").is_disabled()
    page.screenshot(path=str(screens_dir / "roster-uploading-360.png"))
    page.wait_for_url("**/report/", timeout=60_000)
    assert page.locator("#roster-import-status").get_attribute("data-status") in (
        "queued",
        "running",
        "done",
    )
