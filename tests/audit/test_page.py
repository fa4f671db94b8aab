"""Finding 8: the audit log is searchable by staff with the right permission,
for their own schools only, and reading it is itself recorded."""

import pytest
from django.contrib.auth.models import Permission

from core.audit import log as audit
from core.audit.models import AuditEntry
from tests.conftest import login_verified


def grant(user):
    user.user_permissions.add(
        Permission.objects.get(
            codename="view_auditentry", content_type__app_label="audit"
        )
    )
    return user


@pytest.fixture
def other_cpe(school):
    from tests.conftest import make_user

    cpe = make_user("berthe", "administrator", "Berthe", "Morel")
    cpe.orgs.add(school.other_org)
    return grant(cpe)


@pytest.fixture
def logged(school):
    """One entry in each school, and a login of a pupil of each."""
    a = audit.record(
        actor=school.teacher,
        action="roll_call.taken",
        target_type="roll_call",
        target_id=11,
        org_id=school.org.pk,
    )
    b = audit.record(
        actor=school.outsider,
        action="roll_call.taken",
        target_type="roll_call",
        target_id=22,
        org_id=school.other_org.pk,
    )
    login_a = audit.record(
        actor=school.pupil,
        action="login.succeeded",
        target_type="user",
        target_id=school.pupil.pk,
        subject_id=school.pupil.pk,
    )
    login_b = audit.record(
        actor=school.other_child,
        action="login.succeeded",
        target_type="user",
        target_id=school.other_child.pk,
        subject_id=school.other_child.pk,
    )
    return a, b, login_a, login_b


def listed(response) -> set[str]:
    text = response.content.decode()
    cells = {"#11": "roll_call #11", "#22": "roll_call #22", "lea": "<td>lea</td>"}
    cells["ines"] = "<td>ines</td>"
    return {word for word, cell in cells.items() if cell in text}


def test_a_cpe_sees_their_schools_entries_and_not_the_other_schools(
    client, school, logged, other_cpe
):
    login_verified(client, grant(school.cpe))
    response = client.get("/audit/")
    assert response.status_code == 200
    assert listed(response) == {"#11", "lea"}
    login_verified(client, other_cpe)
    assert listed(client.get("/audit/")) == {"#22", "ines"}


def test_a_teacher_cannot_open_the_page(client, school, logged):
    login_verified(client, school.teacher)
    assert client.get("/audit/").status_code == 404
    school.teacher.is_staff = True
    school.teacher.save()
    assert client.get("/audit/").status_code == 404
    assert client.get("/admin/audit/auditentry/").status_code == 403


def test_a_cpe_without_the_permission_cannot_open_it(client, school, logged):
    login_verified(client, school.cpe)
    assert client.get("/audit/").status_code == 404


def test_filters_by_who_action_target_dates_and_pupil(client, school, logged):
    login_verified(client, grant(school.cpe))
    assert listed(client.get("/audit/?who=alice")) == {"#11"}
    assert listed(client.get("/audit/?action=login")) == {"lea"}
    assert listed(client.get("/audit/?target_type=roll_call&target_id=11")) == {"#11"}
    assert listed(client.get("/audit/?pupil=Dubois")) == {"lea"}
    assert listed(client.get("/audit/?pupil=In%C3%A8s")) == set()
    assert listed(client.get("/audit/?start=2000-01-01&end=2000-01-02")) == set()
    assert client.get("/audit/?start=not-a-date").status_code == 400


def test_reading_the_log_is_recorded(client, school, logged):
    login_verified(client, grant(school.cpe))
    client.get("/audit/?action=roll_call", REMOTE_ADDR="203.0.113.5")
    (entry,) = AuditEntry.objects.filter(action="audit_log.viewed")
    assert (entry.actor_id, entry.org_id, entry.ip) == (
        school.cpe.pk,
        school.org.pk,
        "203.0.113.5",
    )
    assert entry.detail["filters"] == {"action": "roll_call"}


def test_the_page_is_french_and_linked_from_the_menu(client, school, logged):
    login_verified(client, grant(school.cpe))
    page = client.get("/audit/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Journal d’audit" in page or "Journal d'audit" in page
    assert 'href="/audit/"' in page
    login_verified(client, school.teacher)
    assert 'href="/audit/"' not in client.get("/").content.decode()


def test_the_admin_list_is_read_only_and_scoped(client, school, logged, other_cpe):
    cpe = grant(school.cpe)
    cpe.is_staff = True
    cpe.save()
    login_verified(client, cpe)
    response = client.get("/admin/audit/auditentry/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "alice" in text and "oscar" not in text
    a, b, *_ = logged
    assert client.get(f"/admin/audit/auditentry/{b.pk}/change/").status_code == 302
    assert client.get(f"/admin/audit/auditentry/{a.pk}/change/").status_code == 200
    assert client.get("/admin/audit/auditentry/add/").status_code == 403
    response = client.post(f"/admin/audit/auditentry/{a.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert AuditEntry.objects.filter(pk=a.pk).exists()
    assert AuditEntry.objects.filter(action="audit_log.viewed", org_id=school.org.pk)
