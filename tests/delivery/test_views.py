"""The delivery pages and endpoints, through Django's test client.

Personas (tests/conftest.py): teacher alice (4e B), guardian karim (Léa in
4e B here, Inès in the other school), guardian sophie (Hugo in 4e B), cpe
paul (school-life staff of the school), outsider oscar (a teacher of the
other school only).
"""

import base64
import datetime as dt
import json
import os
import uuid
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.utils import timezone

from core.messaging import actions as messaging
from core.roster.models import User
from hub.delivery import preferences, unsubscribe_tokens
from hub.delivery.categories import choice_key
from hub.delivery.models import (
    Delivery,
    DeliverySettings,
    Mute,
    Notification,
    Preference,
    PushSubscription,
)
from hub.models import Event
from tests.conftest import capture_events, make_user, verify_session

SETTINGS_URL = "/settings/notifications/"
SUBSCRIBE_URL = "/delivery/subscribe/"
MUTE_URL = "/delivery/mute/"
LOG_URL = "/delivery/log/"


def login(user, **options) -> Client:
    client = Client(**options)
    assert client.login(username=user.username, password="pw-" + user.username)
    verify_session(client, user)
    return client


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def subscription(endpoint: str = "") -> dict:
    """Return a ``PushSubscription.toJSON()`` with a real P-256 key."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint,
        )
    )
    return {
        "endpoint": endpoint or f"http://127.0.0.1:8999/push/{uuid.uuid4().hex}",
        "expirationTime": None,
        "keys": {"p256dh": b64url(point), "auth": b64url(os.urandom(16))},
    }


@pytest.fixture
def local_push(settings):
    """Accept push endpoints on 127.0.0.1 over http (as the test push service)."""
    settings.PUSH_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PUSH_ALLOW_HTTP = True


def post_json(client, url, body, **extra):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **extra)


def settings_data(user, **changes) -> dict:
    """Return the settings form as the page sends it unchanged, plus ``changes``."""
    current = preferences.choices_for(user)
    data = {
        f"category_{spec.key}": choice_key(current[spec.key])
        for spec in preferences.categories_for(user)
    }
    data.update(
        {
            "time_zone": "",
            "quiet_enabled": "on",
            "quiet_start": "20:00",
            "quiet_end": "07:00",
            "digest_hour": "18",
            "weekly_day": "4",
        }
    )
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def start_conversation(school, sender=None, recipients=None, **options):
    return messaging.start_conversation(
        sender=sender or school.teacher,
        org=school.org,
        subject="Sortie au musée",
        recipients=recipients or [school.parent],
        body="Bonjour",
        idempotency_key=uuid.uuid4().hex,
        **options,
    )


# The settings page -----------------------------------------------------------


def test_settings_page_asks_a_guardian_about_their_role_categories_in_french(school):
    page = login(school.parent).get(SETTINGS_URL)

    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="category_absence"' in html
    assert 'name="category_homework"' in html
    assert 'name="category_roll_call"' not in html  # a teacher's category
    assert "Absences et retards" in html
    assert "Notification immédiate" in html
    assert "Heures calmes" in html
    assert "Activer les notifications sur cet appareil" in html
    # The guardian's default for absences is "push" (categories.py).
    assert '<option value="push" selected>' in html


def test_settings_page_says_when_the_digests_leave_and_what_waits(school):
    # Issue 16: a change after 18:00 waited a day without the page saying so.
    html = login(school.parent).get(SETTINGS_URL).content.decode()
    assert (
        "Le récapitulatif du soir part chaque jour à 18 h ; ce qui arrive après "
        "18 h part le lendemain. Le récapitulatif de la semaine part le vendredi "
        "à 18 h" in html
    )
    DeliverySettings.objects.update_or_create(
        user=school.parent, defaults={"digest_hour": 19, "weekly_day": 0}
    )
    html = login(school.parent).get(SETTINGS_URL).content.decode()
    assert "chaque jour à 19 h ; ce qui arrive après 19 h part le lendemain" in html
    assert "part le lundi à 19 h" in html


def test_settings_page_asks_a_teacher_about_roll_calls_and_homework(school):
    html = login(school.teacher).get(SETTINGS_URL).content.decode()

    assert 'name="category_roll_call"' in html
    assert 'name="category_homework"' in html  # hand-ins reach teachers
    assert 'name="category_grades"' not in html


def test_staff_choose_about_homework_and_documents_off_by_default(school):
    from hub.delivery.preferences import choices_of

    html = login(school.cpe).get(SETTINGS_URL).content.decode()
    for key in ("homework", "documents"):
        assert f'name="category_{key}"' in html
        assert not choices_of([school.cpe], key)[school.cpe.pk].inapp
        assert choices_of([school.teacher], key)[school.teacher.pk].inapp


def test_saving_a_choice_stores_only_the_changed_category(school):
    client = login(school.parent)

    response = client.post(
        SETTINGS_URL, settings_data(school.parent, category_absence="email")
    )

    assert response.status_code == 302
    assert response["Location"] == SETTINGS_URL
    row = Preference.objects.get(user=school.parent)
    assert (row.category, row.email, row.push) == ("absence", True, False)
    assert "Vos réglages de notification sont enregistrés" in (
        client.get(SETTINGS_URL).content.decode()
    )


def test_saving_quiet_hours_and_time_zone(school):
    client = login(school.parent)

    client.post(
        SETTINGS_URL,
        settings_data(
            school.parent,
            quiet_enabled=None,
            quiet_start="21:30",
            quiet_weekends="on",
            time_zone="Indian/Reunion",
            weekly_day="0",
        ),
    )

    row = DeliverySettings.objects.get(user=school.parent)
    assert row.quiet_enabled is False
    assert row.quiet_weekends is True
    assert row.quiet_start == dt.time(21, 30)
    assert row.time_zone == "Indian/Reunion"
    assert row.weekly_day == 0


def test_an_unknown_time_zone_is_shown_and_nothing_typed_is_lost(school):
    client = login(school.parent)

    response = client.post(
        SETTINGS_URL,
        settings_data(
            school.parent, category_absence="email", time_zone="Mars/Olympus"
        ),
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Fuseau horaire inconnu" in html
    assert 'value="Mars/Olympus"' in html
    assert '<option value="email" selected>' in html
    assert not Preference.objects.filter(user=school.parent).exists()
    assert not DeliverySettings.objects.filter(user=school.parent).exists()


def test_an_unoffered_choice_is_refused(school):
    response = login(school.parent).post(
        SETTINGS_URL, settings_data(school.parent, category_absence="carrier-pigeon")
    )

    assert response.status_code == 400
    assert not Preference.objects.filter(user=school.parent).exists()


def test_settings_need_a_login(school):
    response = Client().get(SETTINGS_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_settings_list_the_users_devices_only(school, local_push):
    mine = login(school.parent)
    post_json(
        mine,
        SUBSCRIBE_URL,
        subscription(),
        HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile",
    )
    post_json(login(school.other_parent), SUBSCRIBE_URL, subscription())

    html = mine.get(SETTINGS_URL).content.decode()

    assert html.count('class="device"') == 1
    assert "Chrome · Android" in html


# Push subscriptions ------------------------------------------------------------


def test_subscribe_with_valid_keys_stores_the_device(school, local_push):
    info = subscription()

    response = post_json(
        login(school.parent),
        SUBSCRIBE_URL,
        info,
        HTTP_USER_AGENT="Mozilla/5.0 Firefox/128.0",
    )

    assert response.status_code == 201
    row = PushSubscription.objects.get(endpoint=info["endpoint"])
    assert row.user == school.parent
    assert row.p256dh == info["keys"]["p256dh"]
    assert row.user_agent == "Mozilla/5.0 Firefox/128.0"
    assert response.json()["id"] == row.pk


def test_subscribe_with_a_bad_key_answers_400(school, local_push):
    info = subscription()
    info["keys"]["p256dh"] = b64url(b"\x04" + b"\x01" * 64)  # not on the curve

    response = post_json(login(school.parent), SUBSCRIBE_URL, info)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_subscription"
    assert "P-256" in response.json()["message"]
    assert not PushSubscription.objects.exists()


def test_subscribe_to_a_foreign_host_answers_400(school, local_push):
    response = post_json(
        login(school.parent),
        SUBSCRIBE_URL,
        subscription("https://push.evil.example/abc"),
    )

    assert response.status_code == 400
    assert "not an allowed push service" in response.json()["message"]


def test_subscribe_with_malformed_json_answers_400(school, local_push):
    response = post_json(login(school.parent), SUBSCRIBE_URL, b"{not json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


def test_subscribe_over_4_kb_answers_413(school, local_push):
    info = subscription()
    info["padding"] = "x" * 5000

    response = post_json(login(school.parent), SUBSCRIBE_URL, info)

    assert response.status_code == 413
    assert not PushSubscription.objects.exists()


def test_anonymous_cannot_subscribe(school, local_push):
    response = post_json(Client(), SUBSCRIBE_URL, subscription())

    assert response.status_code == 403
    assert not PushSubscription.objects.exists()


def test_subscribe_needs_the_csrf_token(school, local_push):
    client = login(school.parent, enforce_csrf_checks=True)

    refused = post_json(client, SUBSCRIBE_URL, subscription())
    client.get(SETTINGS_URL)  # sets the csrftoken cookie, as any page does
    token = client.cookies["csrftoken"].value
    accepted = post_json(client, SUBSCRIBE_URL, subscription(), HTTP_X_CSRFTOKEN=token)

    assert refused.status_code == 403
    assert accepted.status_code == 201


def test_unsubscribe_push_forgets_only_ones_own_device(school, local_push):
    info = subscription()
    post_json(login(school.parent), SUBSCRIBE_URL, info)

    other = post_json(
        login(school.other_parent),
        "/delivery/unsubscribe-push/",
        {"endpoint": info["endpoint"]},
    )
    mine = post_json(
        login(school.parent),
        "/delivery/unsubscribe-push/",
        {"endpoint": info["endpoint"]},
    )

    assert other.json() == {"removed": False}
    assert mine.json() == {"removed": True}
    assert not PushSubscription.objects.exists()


def test_the_remove_button_of_the_settings_page_forgets_the_device(school, local_push):
    client = login(school.parent)
    info = subscription()
    post_json(client, SUBSCRIBE_URL, info)

    response = client.post(
        "/delivery/unsubscribe-push/", {"endpoint": info["endpoint"]}
    )

    assert response.status_code == 302
    assert response["Location"] == SETTINGS_URL
    assert not PushSubscription.objects.exists()


# One-click unsubscribe (RFC 8058) -----------------------------------------


def test_one_click_post_unsubscribes_without_login_or_csrf(school):
    token = unsubscribe_tokens.unsubscribe_token(school.parent.pk, "excuse")
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        f"/delivery/unsubscribe/{token}/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert "ne recevrez plus" in response.content.decode()
    choice = preferences.choices_for(school.parent)["excuse"]
    assert (choice.email, choice.digest, choice.push) == (False, "", True)
    assert response["Referrer-Policy"] == "no-referrer"


def test_following_the_link_does_not_unsubscribe(school):
    token = unsubscribe_tokens.unsubscribe_token(school.parent.pk, "excuse")

    response = Client().get(f"/delivery/unsubscribe/{token}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="List-Unsubscribe" value="One-Click"' in html
    assert preferences.choices_for(school.parent)["excuse"].digest == "daily"


def test_a_tampered_token_answers_400(school):
    token = unsubscribe_tokens.unsubscribe_token(school.parent.pk, "all")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = Client().post(
        f"/delivery/unsubscribe/{forged}/", {"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code == 400
    assert "pas valide" in response.content.decode()
    assert preferences.choices_for(school.parent)["excuse"].digest == "daily"


def test_a_post_without_the_one_click_body_changes_nothing(school):
    token = unsubscribe_tokens.unsubscribe_token(school.parent.pk, "all")

    response = Client().post(f"/delivery/unsubscribe/{token}/", {})

    assert response.status_code == 400
    assert preferences.choices_for(school.parent)["excuse"].digest == "daily"


# Muting a conversation -------------------------------------------------------


def test_a_participant_mutes_a_conversation_for_an_hour(school):
    conversation = start_conversation(school)
    client = login(school.parent)
    before = timezone.now()

    response = client.post(
        MUTE_URL, {"key": f"conversation:{conversation.pk}", "duration": "1h"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/messages/{conversation.pk}/"
    mute = Mute.objects.get(user=school.parent)
    assert mute.key == f"conversation:{conversation.pk}"
    assert (
        dt.timedelta(minutes=59)
        < mute.until - before
        <= dt.timedelta(hours=1, seconds=5)
    )
    page = client.get(f"/messages/{conversation.pk}/").content.decode()
    assert (
        "Notifications coupées jusqu’au" in page
        or "Notifications coupées jusqu'au" in page
    )


def test_mute_until_tomorrow_ends_at_seven_in_paris(school):
    conversation = start_conversation(school)

    login(school.parent).post(
        MUTE_URL, {"key": f"conversation:{conversation.pk}", "duration": "tomorrow"}
    )

    until = Mute.objects.get(user=school.parent).until.astimezone(
        ZoneInfo("Europe/Paris")
    )
    assert (until.hour, until.minute) == (7, 0)
    assert dt.timedelta(0) < until - timezone.now() <= dt.timedelta(hours=31)


def test_turning_notifications_back_on_lifts_the_mute(school):
    conversation = start_conversation(school)
    client = login(school.parent)
    key = f"conversation:{conversation.pk}"
    client.post(MUTE_URL, {"key": key, "duration": "1h"})

    client.post(MUTE_URL, {"key": key, "duration": "off"})

    assert not Mute.objects.exists()


def test_only_participants_may_mute_a_conversation(school):
    conversation = start_conversation(school)

    response = login(school.other_parent).post(
        MUTE_URL, {"key": f"conversation:{conversation.pk}", "duration": "1h"}
    )

    assert response.status_code == 404
    assert not Mute.objects.exists()


@pytest.mark.parametrize("key", ["absence:1", "conversation:abc", "conversation:"])
def test_only_conversations_can_be_muted(school, key):
    response = login(school.parent).post(MUTE_URL, {"key": key, "duration": "1h"})

    assert response.status_code == 404


def test_mute_redirects_only_inside_the_site(school):
    conversation = start_conversation(school)

    response = login(school.parent).post(
        MUTE_URL,
        {
            "key": f"conversation:{conversation.pk}",
            "duration": "1h",
            "next": "https://evil.example/",
        },
    )

    assert response["Location"] == f"/messages/{conversation.pk}/"


def test_the_conversation_page_offers_to_mute(school):
    conversation = start_conversation(school)

    html = login(school.parent).get(f"/messages/{conversation.pk}/").content.decode()

    assert 'action="/delivery/mute/"' in html
    assert "Couper les notifications" in html
    assert "jusqu’à demain" in html or "jusqu'à demain" in html


# Sending silently --------------------------------------------------------------


def silent_values(events) -> list[bool]:
    return [e.data["silent"] for e in events if e.kind == "messaging.message"]


def test_a_teacher_reply_can_be_sent_silently(school):
    conversation = start_conversation(school)
    client = login(school.teacher)

    with capture_events() as events:
        response = client.post(
            f"/messages/{conversation.pk}/api/messages/",
            {
                "body": "Demain, pensez aux bottes.",
                "idempotency_key": "k1",
                "silent": "on",
            },
            HTTP_ACCEPT="application/json",
        )

    assert response.status_code == 200
    assert silent_values(events) and all(silent_values(events))


def test_a_guardian_cannot_send_silently(school):
    conversation = start_conversation(school)
    client = login(school.parent)

    with capture_events() as events:
        client.post(
            f"/messages/{conversation.pk}/api/messages/",
            {"body": "Merci", "idempotency_key": "k2", "silent": "on"},
            HTTP_ACCEPT="application/json",
        )

    assert silent_values(events) and not any(silent_values(events))


def test_the_silent_checkbox_is_offered_to_staff_only(school):
    conversation = start_conversation(school)
    label = "Envoyer sans notifier ce soir"

    teacher = login(school.teacher).get(f"/messages/{conversation.pk}/")
    parent = login(school.parent).get(f"/messages/{conversation.pk}/")
    new = login(school.cpe).get("/messages/new/")

    assert label in teacher.content.decode()
    assert label not in parent.content.decode()
    assert label in new.content.decode()


def test_a_new_conversation_can_start_silently(school):
    client = login(school.teacher)

    with capture_events() as events:
        response = client.post(
            "/messages/new/",
            {
                "org": school.org.pk,
                "subject": "Réunion",
                "recipients": [school.parent.pk],
                "body": "Réunion jeudi à 18 h.",
                "idempotency_key": uuid.uuid4().hex,
                "reply_policy": "all",
                "silent": "on",
            },
        )

    assert response.status_code == 302
    assert silent_values(events) == [True] * len(silent_values(events))
    assert silent_values(events)


# The delivery log ------------------------------------------------------------


def held_notification(school) -> Notification:
    start_conversation(school)
    event = Event.objects.filter(stream__name=f"user:{school.parent.pk}").latest("pk")
    note = Notification.objects.create(
        user=school.parent,
        event=event,
        category="message",
        title="Nouveau message de <b>Alice</b> Martin",
        child_name="Léa Dubois",
        org=school.org,
        org_name=school.org.name,
    )
    Delivery.objects.create(
        notification=note,
        user=school.parent,
        channel="push",
        status=Delivery.Status.HELD,
        reason="heures calmes jusqu'à 07:00",
        attempts=0,
    )
    Delivery.objects.create(
        notification=note,
        user=school.parent,
        channel="email",
        status=Delivery.Status.SUPPRESSED,
        reason="pas d'e-mail choisi",
    )
    return note


def test_the_cpe_reads_the_log_of_a_parent_of_their_school(school):
    held_notification(school)

    response = login(school.cpe).get(LOG_URL, {"user": school.parent.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Nouveau message de &lt;b&gt;Alice&lt;/b&gt; Martin" in html
    assert "heures calmes jusqu&#x27;à 07:00" in html
    assert "retenue" in html  # Delivery.Status.HELD in French
    assert "Léa Dubois" in html
    assert "Aucun appareil" in html
    assert "20:00" in html  # the default quiet hours


def test_the_cpe_finds_a_parent_by_name(school):
    response = login(school.cpe).get(LOG_URL, {"q": "dubois karim"})

    html = response.content.decode()
    assert f'href="?user={school.parent.pk}"' in html
    assert f'href="?user={school.other_parent.pk}"' not in html


def test_the_search_finds_nobody_of_another_school(school):
    response = login(school.cpe).get(LOG_URL, {"q": "oscar"})

    assert f'href="?user={school.outsider.pk}"' not in response.content.decode()


def test_a_user_of_another_school_is_not_found(school):
    response = login(school.cpe).get(LOG_URL, {"user": school.outsider.pk})

    assert response.status_code == 404


def test_a_parent_of_another_school_only_is_not_found(school):
    stranger = make_user("gilles", User.Role.GUARDIAN, "Gilles", "Faure")
    school.other_child.guardians.add(stranger)

    response = login(school.cpe).get(LOG_URL, {"user": stranger.pk})

    assert response.status_code == 404


@pytest.mark.parametrize("persona", ["parent", "teacher", "pupil"])
def test_others_cannot_read_the_log(school, persona):
    response = login(getattr(school, persona)).get(LOG_URL, {"user": school.parent.pk})

    assert response.status_code == 404


def test_the_log_is_linked_from_the_staff_menu_only(school):
    staff = login(school.cpe).get("/").content.decode()
    parent = login(school.parent).get("/").content.decode()

    assert 'href="/delivery/log/"' in staff
    assert 'href="/delivery/log/"' not in parent
    assert 'href="/settings/notifications/"' in parent


# The service worker and the admin ----------------------------------------------


def test_the_service_worker_is_served_at_the_root(school):
    response = Client().get("/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Cache-Control"] == "no-cache"
    assert response["Service-Worker-Allowed"] == "/"
    body = response.content.decode()
    assert "showNotification" in body
    assert '"newNotification": "Nouvelle notification"' in body


def test_the_service_worker_speaks_the_language_it_is_registered_with(school):
    english = Client().get("/sw.js", {"lang": "en"}).content.decode()
    unknown = Client().get("/sw.js", {"lang": "xx"}).content.decode()

    assert '"newNotification": "New notification"' in english
    assert '"newNotification": "Nouvelle notification"' in unknown


def test_every_page_carries_the_current_vapid_key(school):
    from hub.delivery import vapid

    key = vapid.public_key()

    html = login(school.parent).get("/").content.decode()

    assert 'id="push-config"' in html
    assert key in html


def test_the_admin_lists_deliveries_read_only(school):
    note = held_notification(school)
    admin = make_user("root", User.Role.ADMINISTRATOR, "Root", "Admin", is_staff=True)
    admin.is_superuser = True
    admin.save()
    client = login(admin)

    listing = client.get("/admin/delivery/notification/", {"q": "karim"})
    detail = client.get(f"/admin/delivery/notification/{note.pk}/change/")
    filtered = client.get("/admin/delivery/delivery/", {"status__exact": "held"})
    add = client.get("/admin/delivery/notification/add/")

    assert listing.status_code == 200
    assert "Nouveau message" in listing.content.decode()
    assert detail.status_code == 200
    assert "heures calmes" in detail.content.decode()
    assert filtered.status_code == 200
    assert add.status_code == 403
    assert client.get("/admin/delivery/pushsubscription/").status_code == 200
    assert client.get("/admin/delivery/emailsend/").status_code == 200


def test_quiet_hours_that_start_when_they_end_are_refused(school):
    client = login(school.parent)

    response = client.post(
        SETTINGS_URL,
        settings_data(school.parent, quiet_start="07:00", quiet_end="07:00"),
    )

    assert response.status_code == 400
    assert "doivent commencer et finir" in response.content.decode()
    assert not DeliverySettings.objects.filter(user=school.parent).exists()


def test_a_search_too_long_in_the_delivery_log_is_a_form_error(school):
    response = login(school.cpe).get(LOG_URL, {"q": "x" * 101})

    assert response.status_code == 400
    assert "100" in response.content.decode()
