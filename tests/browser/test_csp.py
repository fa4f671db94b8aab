"""Finding 9: the live pages work under the Content-Security-Policy.

Every page of every role, the admin's included, is opened in Chromium with
the policy the server sends; none may report a violation (the console's
"Refused to ..." or a ``securitypolicyviolation`` event), and the parts that
run scripts still run: the socket connects, the roll-call page and the
admin's autocomplete work.
"""

import pytest
from playwright.sync_api import expect

SEED = """
from django.contrib.auth.models import Permission
from core.roster.models import User
admin, _ = User.objects.get_or_create(
    username="csp.admin", defaults={"role": "administrator", "is_staff": True,
    "is_superuser": True})
admin.set_password("pw-csp.admin"); admin.save()
paul = User.objects.get(username="paul")
paul.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
"""

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(event.violatedDirective + " " + event.blockedURI);
});
"""

PAGES = {
    "lea": ["/", "/timetable/", "/notifications/", "/absences/", "/messages/"],
    "karim": ["/absences/", "/messages/", "/settings/notifications/"],
    "alice": ["/", "/absences/", "/messages/new/"],
    "paul": ["/absences/", "/delivery/log/?q=dubois", "/audit/"],
    "csp.admin": [
        "/admin/",
        "/admin/roster/user/",
        "/admin/audit/auditentry/",
        "/admin/roster/guardianlink/add/",
        "/admin/roster/rosterimport/upload/",
    ],
}


def watch(page) -> list[str]:
    refused = []
    page.add_init_script(WATCH)
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return refused


def violations(page, refused) -> list[str]:
    return refused + page.evaluate("window.__csp || []")


@pytest.mark.browser
@pytest.mark.parametrize("username", list(PAGES))
def test_pages_run_under_the_policy_without_a_violation(
    live_hub, page, login, username
):
    live_hub.shell(SEED)
    refused = watch(page)
    login(page, username)
    for path in PAGES[username]:
        response = page.goto(path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        if not path.startswith("/admin/"):
            expect(page.locator("#hub-status")).to_have_attribute(
                "data-state", "connected"
            )
        assert violations(page, refused) == [], path
    assert not page.js_errors, page.js_errors


@pytest.mark.browser
def test_the_admins_autocomplete_and_the_login_page_work(live_hub, page, login):
    live_hub.shell(SEED)
    refused = watch(page)
    page.goto("/login/")
    assert violations(page, refused) == []
    # The watch is not deaf: an inline style added by a script is refused
    # and reported.
    page.evaluate(
        "document.head.insertAdjacentHTML('beforeend', '<style>body{}</style>')"
    )
    page.wait_for_function("() => window.__csp.length > 0")
    assert any("style-src" in text for text in violations(page, refused))
    refused.clear()
    page.evaluate("window.__csp = []")
    login(page, "csp.admin")
    page.goto("/admin/roster/guardianlink/add/")
    page.locator(".field-student .select2-selection").click()
    page.locator(".select2-search__field").fill("dubois")
    expect(page.locator(".select2-results__option").first).to_contain_text("Dubois")
    page.goto("/admin/roster/user/")
    page.locator("#searchbar").fill("lea")
    with page.expect_navigation():
        page.locator("#searchbar").press("Enter")
    # The change form: two-box permission pickers and inline rows (admin JS).
    with page.expect_navigation():
        page.locator("#result_list a", has_text="lea").first.click()
    expect(page.locator("#id_user_permissions_from")).to_be_visible()
    page.locator("#id_user_permissions_from option").first.click()
    page.locator("#id_user_permissions_add").click()
    expect(page.locator("#id_user_permissions_to option")).to_have_count(1)
    assert violations(page, refused) == []
    assert not page.js_errors, page.js_errors
