"""The second factor on pages: who must have one, the second step, enrolment,
recovery codes, the settings page (core/twofactor)."""

import re

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.audit.models import AuditEntry
from core.twofactor import actions
from tests.conftest import login_verified, totp_device

pytestmark = pytest.mark.django_db


def password_login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password="pw-" + user.username)
    return client


def code_of(device: TOTPDevice, offset: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, drift=offset):06d}"


def audited(action: str, user) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(action=action, actor_id=user.pk).order_by("pk")
    )


@pytest.mark.parametrize("path", ["/", "/absences/", "/delivery/log/", "/admin/"])
def test_staff_without_a_device_reach_only_enrolment(school, path):
    client = password_login(school.cpe)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/double-authentification/activer/?next=")


def test_an_admin_user_without_a_device_is_sent_to_enrolment(school):
    school.parent.is_staff = True
    school.parent.save()
    client = password_login(school.parent)

    assert client.get("/admin/")["Location"].startswith(
        "/double-authentification/activer/"
    )


def test_families_without_a_device_need_no_second_step(school):
    client = password_login(school.parent)

    assert client.get("/").status_code == 200


def test_enrolment_shows_the_qr_code_then_ten_recovery_codes_once(school):
    client = password_login(school.teacher)

    page = client.get("/double-authentification/activer/?next=/timetable/")
    assert page.status_code == 200
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user=school.teacher, confirmed=False)
    assert page.context["secret"] in page.content.decode()

    done = client.post(
        "/double-authentification/activer/",
        {"code": code_of(device), "next": "/timetable/"},
    )

    assert done.status_code == 200
    codes = done.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}-[a-z2-7]{4}", code) for code in codes)
    assert client.get("/timetable/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert audited("twofactor.totp_added", school.teacher)
    assert audited("twofactor.recovery_codes_generated", school.teacher)
    # Shown once: the settings page only counts them.
    settings_page = client.get("/settings/security/").content.decode()
    assert codes[0] not in settings_page
    assert "10 codes de secours" in settings_page


def test_a_wrong_enrolment_code_confirms_nothing(school):
    client = password_login(school.teacher)
    client.get("/double-authentification/activer/")

    response = client.post("/double-authentification/activer/", {"code": "000000"})

    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert not TOTPDevice.objects.filter(user=school.teacher, confirmed=True).exists()
    assert client.get("/").status_code == 302


def test_staff_with_a_device_get_the_second_step_then_the_page(school):
    device = totp_device(school.teacher)
    client = password_login(school.teacher)

    assert client.get("/timetable/")["Location"] == (
        "/connexion/verification/?next=%2Ftimetable%2F"
    )
    response = client.post(
        "/connexion/verification/", {"code": code_of(device), "next": "/timetable/"}
    )

    assert response.status_code == 302 and response["Location"] == "/timetable/"
    assert client.get("/timetable/").status_code == 200
    assert audited("twofactor.verified", school.teacher)


def test_a_wrong_code_is_refused_and_audited(school):
    totp_device(school.teacher)
    client = password_login(school.teacher)

    response = client.post("/connexion/verification/", {"code": "123456"})

    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    [entry] = audited("twofactor.failed", school.teacher)
    assert entry.detail["method"] == "totp"
    assert client.get("/").status_code == 302


def test_wrong_codes_slow_down_even_the_right_code(school, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 600  # the first failure locks 10 min
    device = totp_device(school.teacher)
    client = password_login(school.teacher)
    client.post("/connexion/verification/", {"code": "123456"})

    response = client.post("/connexion/verification/", {"code": code_of(device)})

    assert response.status_code == 200
    assert "Trop de codes faux" in response.content.decode()
    assert client.get("/").status_code == 302
    assert audited("twofactor.failed", school.teacher)[-1].detail["throttled"]


def test_a_recovery_code_works_once(school):
    totp_device(school.teacher)
    codes = actions.new_recovery_codes(school.teacher, None)

    first = password_login(school.teacher)
    response = first.post("/connexion/verification/", {"code": codes[3].upper()})
    assert response.status_code == 302
    assert first.get("/").status_code == 200
    assert StaticToken.objects.filter(device__user=school.teacher).count() == 9
    assert audited("twofactor.recovery_code_used", school.teacher)

    second = password_login(school.teacher)
    again = second.post("/connexion/verification/", {"code": codes[3]})
    assert again.status_code == 200
    assert second.get("/").status_code == 302


def test_a_family_with_a_device_gets_the_second_step(school):
    totp_device(school.parent)
    client = password_login(school.parent)

    assert client.get("/")["Location"].startswith("/connexion/verification/")


def test_the_admin_requires_the_second_factor(school):
    device = totp_device(school.cpe)
    school.cpe.is_staff = school.cpe.is_superuser = True
    school.cpe.save()
    client = Client()
    client.post(
        "/admin/login/",
        {"username": school.cpe.username, "password": "pw-" + school.cpe.username},
    )

    assert client.get("/admin/")["Location"].startswith("/connexion/verification/")
    client.post("/connexion/verification/", {"code": code_of(device)})
    assert client.get("/admin/").status_code == 200


def test_the_second_step_page_starts_no_socket(school):
    totp_device(school.teacher)
    client = password_login(school.teacher)

    page = client.get("/connexion/verification/").content.decode()

    assert "hub/page.js" not in page
    assert 'action="/logout/"' in page


# Settings › Two-factor authentication --------------------------------------


def test_changes_ask_for_the_password_again(school, settings):
    device = totp_device(school.parent)
    other = TOTPDevice.objects.create(user=school.parent, name="old", confirmed=True)
    client = login_verified(Client(), school.parent)
    settings.TWOFACTOR_REAUTH_SECONDS = -1  # the login's password is too old

    client.post("/settings/security/remove/", {"device": other.persistent_id})
    assert TOTPDevice.objects.filter(pk=other.pk).exists()

    settings.TWOFACTOR_REAUTH_SECONDS = 600
    wrong = client.post("/settings/security/password/", {"password": "nope"})
    assert wrong.status_code == 200
    client.post("/settings/security/password/", {"password": "pw-karim"})
    client.post("/settings/security/remove/", {"device": other.persistent_id})
    assert not TOTPDevice.objects.filter(pk=other.pk).exists()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    assert audited("twofactor.totp_removed", school.parent)


def test_staff_cannot_remove_their_last_second_factor(school):
    device = totp_device(school.cpe)
    client = login_verified(Client(), school.cpe)

    client.post("/settings/security/remove/", {"device": device.persistent_id})

    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_a_family_can_turn_it_off(school):
    device = totp_device(school.parent)
    actions.new_recovery_codes(school.parent, None)
    client = login_verified(Client(), school.parent)

    client.post("/settings/security/remove/", {"device": device.persistent_id})

    assert not TOTPDevice.objects.filter(user=school.parent).exists()
    assert not StaticToken.objects.filter(device__user=school.parent).exists()
    assert password_login(school.parent).get("/").status_code == 200


def test_new_recovery_codes_replace_the_old_ones(school):
    totp_device(school.cpe)
    old = actions.new_recovery_codes(school.cpe, None)
    client = login_verified(Client(), school.cpe)

    response = client.post("/settings/security/recovery-codes/")

    new = response.context["codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert StaticToken.objects.filter(device__user=school.cpe).count() == 10


def test_someone_elses_device_cannot_be_removed(school):
    theirs = totp_device(school.teacher)
    client = login_verified(Client(), school.parent)

    client.post("/settings/security/remove/", {"device": theirs.persistent_id})

    assert TOTPDevice.objects.filter(pk=theirs.pk).exists()


def test_adding_a_passkey_asks_for_the_password_again(school, settings):
    totp_device(school.parent)
    client = login_verified(Client(), school.parent)
    settings.TWOFACTOR_REAUTH_SECONDS = -1

    response = client.post(
        "/passkeys/registration/begin/", content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "password_needed"


def test_enrolment_after_an_old_login_asks_for_the_password(school, settings):
    client = password_login(school.teacher)
    settings.TWOFACTOR_REAUTH_SECONDS = -1

    response = client.get("/double-authentification/activer/")

    assert response["Location"].startswith("/settings/security/password/?next=")
    assert not TOTPDevice.objects.filter(user=school.teacher).exists()


def test_a_passkey_that_does_not_verify_is_audited(school):
    client = Client()
    begin = client.post(
        "/passkeys/authentication/begin/", content_type="application/json"
    )
    assert begin.status_code == 200 and begin.json()["challenge"]

    response = client.post(
        "/passkeys/authentication/complete/",
        {
            "id": "AAAA",
            "rawId": "AAAA",
            "type": "public-key",
            "response": {
                "clientDataJSON": "e30",
                "authenticatorData": "AAAA",
                "signature": "AAAA",
            },
        },
        content_type="application/json",
    )

    assert response.status_code >= 400
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.get(action="twofactor.failed")
    assert entry.actor_id is None and entry.detail["method"] == "passkey"


def test_a_family_whose_device_went_meanwhile_is_not_stuck(school):
    device = totp_device(school.parent)
    client = password_login(school.parent)
    device.delete()  # from another session, or by the school

    assert client.get("/").status_code == 200
