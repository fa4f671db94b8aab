"""The web push sending layer against a local push service.

``push_endpoint`` (``tests/delivery/push_endpoint.py``) verifies every VAPID
signature and decrypts every payload the way a real push service and browser
would, so a "sent" here means a browser could have read it.
"""

import base64
import email.utils
import io
import json
import time

import pytest
from django.core.management import call_command

from hub.delivery import push_payload, retry, vapid
from hub.delivery.models import VapidKey
from hub.delivery.push_payload import SHRUNK_LIMIT, build_payload
from hub.delivery.push_subscriptions import InvalidSubscription, validate_subscription
from hub.delivery.transports import webpush
from hub.delivery.transports.webpush import PushJob, WebPushTransport
from hub.delivery.vapid import VapidSigner, generate_keypair
from tests.delivery.push_endpoint import PushEndpoint, new_subscription

CONTACT = "mailto:vie-scolaire@college-tilleuls.example"
MESSAGE = {
    "type": "show",
    "title": "Léa Moreau absente",
    "body": "Absente en Mathématiques (8 h – 9 h) 🏫, Mme Fontaine.",
    "tag": "absence:42",
    "url": "/absences/42/",
    "child": "Léa",
    "school": "Collège des Tilleuls",
    "ts": 1767000000,
}


@pytest.fixture
def signer():
    private_pem, _public = generate_keypair()
    return VapidSigner(private_pem, CONTACT)


def job(key, subscription, message=MESSAGE, **fields) -> PushJob:
    fields.setdefault("ttl", 3600)
    return PushJob(key, subscription, message, **fields)


async def send(signer, *jobs, timeout=5.0) -> list[webpush.PushOutcome]:
    async with WebPushTransport(signer, timeout=timeout) as sender:
        return await sender.send_many(jobs)


def jwt_claims(authorization: str) -> dict:
    token = authorization.split("t=", 1)[1].split(",", 1)[0]
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


# Sending --------------------------------------------------------------------


async def test_payload_arrives_decrypted_with_headers(push_endpoint, signer):
    info = push_endpoint.subscribe("parent-phone")
    topic = push_payload.topic_for(MESSAGE["tag"])

    [outcome] = await send(signer, job(7, info, urgency="high", topic=topic))

    assert (outcome.key, outcome.result, outcome.status) == (7, "sent", 201)
    assert not outcome.shrunk
    [record] = push_endpoint.received("parent-phone")
    assert record.error == ""
    assert record.payload == MESSAGE
    assert record.headers["ttl"] == "3600"
    assert record.headers["urgency"] == "high"
    assert record.headers["topic"] == topic
    assert record.headers["content-encoding"] == "aes128gcm"
    assert record.claims["aud"] == push_endpoint.url
    assert record.claims["sub"] == CONTACT
    assert record.headers["authorization"].endswith(",k=" + signer.public_key)


async def test_no_topic_header_without_topic(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    await send(signer, job(1, info))
    assert "topic" not in push_endpoint.received("a")[0].headers
    assert push_endpoint.received("a")[0].headers["urgency"] == "normal"


async def test_one_signature_per_push_service(push_endpoint, signer):
    infos = [push_endpoint.subscribe(f"device-{n}") for n in range(10)]
    with PushEndpoint() as other_service:
        infos.append(other_service.subscribe("elsewhere"))
        outcomes = await send(signer, *(job(n, info) for n, info in enumerate(infos)))
        [elsewhere] = other_service.records

    assert {outcome.result for outcome in outcomes} == {"sent"}
    assert signer.signatures == 2  # one per origin, not one per message
    headers = {record.headers["authorization"] for record in push_endpoint.records}
    assert len(headers) == 1
    assert elsewhere.headers["authorization"] not in headers


@pytest.mark.parametrize(
    "status, result",
    [
        (200, "sent"),
        (202, "sent"),
        (400, "failed"),
        (401, "failed"),
        (403, "failed"),
        (404, "gone"),
        (410, "gone"),
        (422, "failed"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
    ],
)
async def test_answers_become_outcomes(push_endpoint, signer, status, result):
    info = push_endpoint.subscribe("a")
    push_endpoint.answer("a", status)

    [outcome] = await send(signer, job("d1", info))

    assert (outcome.result, outcome.status) == (result, status)
    assert outcome.retry_after is None
    if result != "sent":
        assert outcome.reason.startswith(f"HTTP {status}")


async def test_unsubscribed_browser_is_gone(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    push_endpoint.unsubscribe("a")
    [outcome] = await send(signer, job(1, info))
    assert (outcome.result, outcome.status) == ("gone", 410)


async def test_redirect_is_not_followed(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    push_endpoint.answer("a", 307)
    [outcome] = await send(signer, job(1, info))
    assert (outcome.result, outcome.status) == ("failed", 307)
    assert len(push_endpoint.records) == 1


@pytest.mark.parametrize(
    "header, expected",
    [("120", 120.0), (None, webpush.DEFAULT_RETRY_AFTER), ("soon", 60.0)],
)
async def test_429_retry_after_seconds(push_endpoint, signer, header, expected):
    info = push_endpoint.subscribe("a")
    push_endpoint.answer("a", 429, retry_after=header)
    [outcome] = await send(signer, job(1, info))
    assert (outcome.result, outcome.status) == ("retry", 429)
    assert outcome.retry_after == expected


async def test_429_retry_after_http_date(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    date = email.utils.formatdate(time.time() + 3600, usegmt=True)
    push_endpoint.answer("a", 429, retry_after=date)
    [outcome] = await send(signer, job(1, info))
    assert outcome.result == "retry"
    assert 0 < outcome.retry_after <= 3600


def test_parse_retry_after():
    now = 1_000_000_000.0
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert retry.parse_retry_after(date, now=now) == 90
    assert (
        retry.parse_retry_after(email.utils.formatdate(now - 5, usegmt=True), now=now)
        == 0
    )
    assert retry.parse_retry_after(" 30 ", now=now) == 30
    assert retry.parse_retry_after("", now=now) is None
    assert retry.parse_retry_after("-1", now=now) is None


async def test_503_sequence_then_sent(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    push_endpoint.answer("a", 503, 503, 201, retry_after="7")
    results = []
    async with WebPushTransport(signer) as sender:
        for n in range(3):
            outcome = await sender.outcome(job(n, info))
            results.append((outcome.result, outcome.status, outcome.retry_after))
    assert results == [("retry", 503, 7.0), ("retry", 503, 7.0), ("sent", 201, None)]


async def test_413_shrinks_and_retries_once(signer):
    long = {**MESSAGE, "body": "Très long message éàü 🎒 " * 200}
    with PushEndpoint(max_body=1500) as small_service:  # under our 3000 bytes
        info = small_service.subscribe("a")
        [outcome] = await send(signer, job(1, info, message=long))
        records = small_service.records

    assert (outcome.result, outcome.status, outcome.shrunk) == ("sent", 201, True)
    assert [record.status for record in records] == [413, 201]
    shrunk = records[1].payload
    compact = json.dumps(shrunk, ensure_ascii=False, separators=(",", ":"))
    assert len(compact.encode()) <= SHRUNK_LIMIT
    assert shrunk["body"].endswith("…")
    assert shrunk["title"] == MESSAGE["title"]


async def test_413_twice_fails(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    push_endpoint.answer("a", 413)
    [outcome] = await send(signer, job(1, info))
    assert (outcome.result, outcome.status, outcome.shrunk) == ("failed", 413, True)
    assert len(push_endpoint.records) == 2


async def test_timeout_is_retried_with_backoff(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    push_endpoint.hang("a")
    [outcome] = await send(signer, job(1, info), timeout=0.3)
    assert (outcome.result, outcome.status, outcome.retry_after) == (
        "retry",
        None,
        None,
    )
    assert outcome.reason.startswith("network:")


async def test_connection_refused_is_retried(signer):
    with PushEndpoint() as gone_service:
        info = gone_service.subscribe("a")
    [outcome] = await send(signer, job(1, info))
    assert (outcome.result, outcome.status, outcome.retry_after) == (
        "retry",
        None,
        None,
    )


async def test_key_that_cannot_encrypt_fails(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    not_on_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode()
    broken = {**info, "keys": {**info["keys"], "p256dh": not_on_curve}}
    [outcome] = await send(signer, job(1, broken))
    assert (outcome.result, outcome.status) == ("failed", None)
    assert "encrypt" in outcome.reason
    assert push_endpoint.records == []


async def test_batch_survives_bad_jobs_and_keeps_order(push_endpoint, signer):
    infos = [push_endpoint.subscribe(f"d{n}") for n in range(40)]
    push_endpoint.answer("d5", 410)
    jobs = [job(f"k{n}", info) for n, info in enumerate(infos)]
    jobs[3] = job("k3", {"endpoint": "not a url", "keys": infos[3]["keys"]})
    jobs[9] = job("k9", {"keys": infos[9]["keys"]})  # no endpoint
    jobs[17] = job("k17", None)  # not even a dict

    async with WebPushTransport(signer) as sender:
        outcomes = await sender.send_many(jobs, concurrency=8)

    assert [outcome.key for outcome in outcomes] == [f"k{n}" for n in range(40)]
    results = {outcome.key: outcome.result for outcome in outcomes}
    assert results.pop("k5") == "gone"
    assert [results.pop(key) for key in ("k3", "k9", "k17")] == ["failed"] * 3
    assert set(results.values()) == {"sent"}
    assert len(push_endpoint.records) == 37


async def test_signs_with_the_subscriptions_own_key(push_endpoint):
    older, newer = (VapidSigner(generate_keypair()[0], CONTACT) for _ in range(2))
    info = push_endpoint.subscribe("a", application_server_key=older.public_key)

    async with WebPushTransport([newer, older]) as sender:
        matched = await sender.outcome(job(1, info, vapid_key=older.public_key))
        unknown = await sender.outcome(job(2, info, vapid_key="retired-key"))

    assert matched.result == "sent"
    assert (unknown.result, unknown.status) == ("failed", 403)


async def test_sender_outside_async_with_raises(signer):
    with pytest.raises(RuntimeError):
        await WebPushTransport(signer).send(job(1, {"endpoint": "https://x.example/"}))


# Jobs, topics, back-off ----------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"ttl": 0},
        {"ttl": -5},
        {"urgency": "urgent"},
        {"topic": "a" * 33},
        {"topic": "a:b"},
    ],
)
def test_bad_job_fields_are_refused(fields):
    with pytest.raises(ValueError):
        job(1, {}, **fields)


def test_topic_for():
    topic = push_payload.topic_for("conversation:12")
    assert len(topic) == 32
    assert set(topic) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert (
        topic
        == push_payload.topic_for("conversation:12")
        != push_payload.topic_for("conversation:13")
    )
    assert push_payload.topic_for("") == ""


def test_backoff_is_capped_full_jitter():
    for attempts in range(0, 40):
        ceiling = min(3600, 30 * 2 ** max(attempts - 1, 0))
        delays = [retry.backoff(attempts) for _ in range(20)]
        assert all(0 <= delay <= ceiling for delay in delays)
    assert retry.backoff(3, base=1, cap=2) <= 2


# Payloads -------------------------------------------------------------------


def test_small_payload_is_compact_utf8():
    data = build_payload(MESSAGE)
    assert (
        data == json.dumps(MESSAGE, ensure_ascii=False, separators=(",", ":")).encode()
    )


def test_long_body_is_cut_under_the_limit():
    message = {**MESSAGE, "body": "Sortie au musée 🖼️ à Besançon — ça commence ! " * 500}
    data = build_payload(message)
    assert len(data) <= push_payload.PAYLOAD_LIMIT
    shown = json.loads(data)
    assert shown["title"] == MESSAGE["title"]
    assert shown["body"].endswith("…")
    assert message["body"].startswith(shown["body"][:-1])
    assert len(data) > push_payload.PAYLOAD_LIMIT - 100  # cut, not emptied


def test_title_is_cut_after_the_body():
    message = {**MESSAGE, "title": "Élève " * 400, "body": "Corps " * 400}
    shown = json.loads(build_payload(message, limit=500))
    assert shown["body"] == "…"
    assert shown["title"].endswith("…") and len(shown["title"]) > 100
    assert shown["url"] == MESSAGE["url"]


def test_close_with_many_tags_keeps_the_first():
    tags = [f"conversation:{n}" for n in range(1000)]
    shown = json.loads(build_payload({"type": "close", "tags": tags}, limit=600))
    assert shown["type"] == "close"
    assert 10 < len(shown["tags"]) < 1000
    assert shown["tags"] == tags[: len(shown["tags"])]


@pytest.mark.parametrize("limit", [120, 200, 333, 1000, 3000])
def test_never_raises_and_fits(limit):
    texts = [
        "é" * 5000,
        "👨‍👩‍👧‍👦" * 800,
        'quote " and backslash \\ and \n newline ' * 300,
        "\u0065\u0301" * 3000,  # e + combining acute
        "\x00\x1f" * 2000,  # escaped as \\u0000: six bytes each
        "a" * 10000,
    ]
    for text in texts:
        message = {**MESSAGE, "title": text, "body": text, "url": "/x" * 100}
        data = build_payload(message, limit=limit)
        assert len(data) <= limit
        json.loads(data.decode("utf-8"))  # valid UTF-8 and JSON


def test_unserialisable_and_surrogate_values_do_not_raise():
    data = build_payload({"type": "show", "title": "\ud800 lone", "ts": time}, 3000)
    assert json.loads(data)["type"] == "show"
    assert (
        build_payload({"title": "x" * 5000}, 100)
        == b'{"title":"' + b"x" * 85 + '…"}'.encode()
    )
    assert build_payload({"type": "show", "url": "/" * 99}, 2) == b"{}"


# Subscriptions --------------------------------------------------------------

ALLOWED = ["fcm.googleapis.com", "push.apple.com", "127.0.0.1"]


@pytest.fixture
def subscription():
    info, _key, _auth = new_subscription("https://fcm.googleapis.com/fcm/send/abc:def")
    return info


def check(info, allow_http=False):
    return validate_subscription(info, allowed_hosts=ALLOWED, allow_http=allow_http)


def test_valid_subscription_is_cleaned(subscription):
    padded = {
        "endpoint": subscription["endpoint"],
        "keys": {
            key: value + "=" * (-len(value) % 4)
            for key, value in subscription["keys"].items()
        },
        "expirationTime": None,
    }
    assert check(padded) == subscription
    apple = {**subscription, "endpoint": "https://web.push.apple.com/QGuQ"}
    assert check(apple)["endpoint"] == apple["endpoint"]


def test_local_endpoint_needs_allow_http(push_endpoint):
    info = push_endpoint.subscribe("a")
    assert check(info, allow_http=True) == info
    with pytest.raises(InvalidSubscription, match="https"):
        check(info)


@pytest.mark.parametrize(
    "endpoint, message",
    [
        ("http://fcm.googleapis.com/fcm/send/x", "https"),
        ("ftp://fcm.googleapis.com/x", "https"),
        ("https://evil.example/push", "not an allowed push service"),
        ("https://169.254.169.254/latest/meta-data/", "not an allowed"),
        ("https://localhost/push", "not an allowed"),
        ("https://10.0.0.1/push", "not an allowed"),
        ("https://notpush.apple.com/x", "not an allowed"),
        ("https://push.apple.com.evil.example/x", "not an allowed"),
        ("https://x.127.0.0.1/x", "not an allowed"),
        ("https://fcm.googleapis.com@evil.example/x", "user info"),
        ("https://user:pw@fcm.googleapis.com/x", "user info"),
        ("https://fcm.googleapis.com:99999/x", "not a valid URL"),
        ("https:///x", "no host"),
        ("https://fcm.googleapis.com/" + "a" * 2000, "2000"),
        ("https://fcm.googleapis.com/a b", "spaces"),
        ("https://fcm.googleapis.com/\u00e9", "non-ASCII"),
        ("", "no endpoint"),
        (None, "no endpoint"),
    ],
)
def test_bad_endpoints_are_refused(subscription, endpoint, message):
    with pytest.raises(InvalidSubscription, match=message):
        check({**subscription, "endpoint": endpoint})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "keys, message",
    [
        ({"p256dh": "!!not base64!!"}, "p256dh is not base64url"),
        ({"p256dh": "abcde"}, "p256dh is not base64url"),  # 5 chars: no byte string
        ({"p256dh": "a+b/" * 22}, "p256dh is not base64url"),  # standard alphabet
        ({"p256dh": b64(b"\x04" + b"\x01" * 63)}, "65-byte"),
        ({"p256dh": b64(b"\x02" + b"\x01" * 32)}, "65-byte"),  # compressed point
        ({"p256dh": b64(b"\x04" + b"\x01" * 64)}, "not a point on P-256"),
        ({"auth": b64(b"\x00" * 15)}, "16 bytes"),
        ({"auth": b64(b"\x00" * 32)}, "16 bytes"),
        ({"auth": ""}, "auth is not base64url"),
        ({"auth": 12}, "auth is not base64url"),
        ({"p256dh": None}, "p256dh is not base64url"),
    ],
)
def test_bad_keys_are_refused(subscription, keys, message):
    with pytest.raises(InvalidSubscription, match=message):
        check({**subscription, "keys": {**subscription["keys"], **keys}})


def test_malformed_subscriptions_are_refused(subscription):
    with pytest.raises(InvalidSubscription, match="no keys"):
        check({"endpoint": subscription["endpoint"]})
    with pytest.raises(InvalidSubscription, match="JSON object"):
        check([subscription])


# VAPID ----------------------------------------------------------------------


def test_signer_caches_per_audience_until_an_hour_before_expiry(signer):
    endpoint = "https://fcm.googleapis.com/fcm/send/abc"
    first = signer.authorization(endpoint, now=1_000_000)
    claims = jwt_claims(first)
    assert claims == {
        "aud": "https://fcm.googleapis.com",
        "exp": 1_000_000 + 12 * 3600,
        "sub": CONTACT,
    }
    assert first.startswith("vapid t=") and first.endswith(",k=" + signer.public_key)

    assert signer.authorization(endpoint + "/other", now=1_000_000 + 10 * 3600) == first
    assert signer.signatures == 1
    renewed = signer.authorization(endpoint, now=1_000_000 + 11 * 3600)
    assert renewed != first and signer.signatures == 2
    assert jwt_claims(renewed)["exp"] == 1_000_000 + 23 * 3600


def test_audience_is_the_origin():
    assert vapid.audience("https://Push.Apple.com:443/x?y") == "https://push.apple.com"
    assert vapid.audience("http://127.0.0.1:8123/push/a") == "http://127.0.0.1:8123"
    assert vapid.audience("https://[::1]:8443/p") == "https://[::1]:8443"
    with pytest.raises(ValueError):
        vapid.audience("mailto:x@example.org")


def test_signer_refuses_bad_keys_and_contacts():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="P-256"):
        VapidSigner(p384, CONTACT)
    with pytest.raises(ValueError, match="mailto"):
        VapidSigner(generate_keypair()[0], "admin@example.org")


@pytest.mark.django_db
def test_current_key_is_created_once_and_kept():
    first = vapid.current_key()
    assert vapid.current_key().pk == first.pk
    assert VapidKey.objects.count() == 1
    raw = base64.urlsafe_b64decode(first.public_key + "=")
    assert len(raw) == 65 and raw[0] == 4
    assert vapid.public_key() == first.public_key
    assert VapidSigner(first.private_pem, CONTACT).public_key == first.public_key


@pytest.mark.django_db
def test_rotate_replaces_the_key():
    old = vapid.current_key()
    new = vapid.rotate()
    assert new.public_key != old.public_key
    assert vapid.current_key().pk == new.pk
    old.refresh_from_db()
    assert not old.active


@pytest.mark.django_db
def test_keys_of_a_race_stay_active_newest_first(settings):
    settings.VAPID_CONTACT = CONTACT
    older = vapid.current_key()
    private_pem, public = generate_keypair()  # another process's key
    newer = VapidKey.objects.create(private_pem=private_pem, public_key=public)
    assert vapid.current_key().pk == newer.pk
    signers = vapid.active_signers()
    assert [s.public_key for s in signers] == [newer.public_key, older.public_key]
    assert signers[0].contact == CONTACT


@pytest.mark.django_db
def test_the_vapid_private_key_is_encrypted_at_rest_and_rotated(settings):
    from cryptography.fernet import Fernet
    from django.db import connection

    from core import crypto

    key = vapid.current_key()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT private_pem FROM delivery_vapidkey WHERE id = %s", [key.pk]
        )
        (raw,) = cursor.fetchone()
    token = bytes(raw) if not isinstance(raw, str) else raw.encode()
    assert b"PRIVATE KEY" not in token
    assert crypto.decrypt(token).decode() == key.private_pem
    assert ("delivery.VapidKey", "private_pem") in {
        (model._meta.label, name) for model, name in crypto.token_fields()
    }
    # The message keys' rotation re-encrypts it; pushes still sign with it.
    old = list(settings.MESSAGE_KEYS)
    settings.MESSAGE_KEYS = [Fernet.generate_key().decode(), *old]
    call_command("rotate_message_keys", stdout=io.StringIO())
    settings.MESSAGE_KEYS = settings.MESSAGE_KEYS[:1]
    (signer,) = vapid.active_signers(CONTACT)
    assert signer.public_key == key.public_key


@pytest.mark.django_db
def test_rotate_command_prints_the_new_key(capsys):
    vapid.current_key()
    call_command("rotate_vapid_key")
    output = capsys.readouterr().out
    assert vapid.public_key() in output
    assert "re-subscribes" in output


def test_an_endpoint_is_normalised_so_one_browser_is_one_device():
    clean = validate_subscription(
        {
            "endpoint": "https://FCM.GOOGLEAPIS.COM./fcm/send/abc",
            "keys": new_subscription("https://x")[0]["keys"],
        },
        allowed_hosts=["fcm.googleapis.com"],
        allow_http=False,
    )
    assert clean["endpoint"] == "https://fcm.googleapis.com/fcm/send/abc"


def test_another_port_of_an_allowed_push_service_is_refused():
    with pytest.raises(InvalidSubscription, match="port"):
        validate_subscription(
            {
                "endpoint": "https://fcm.googleapis.com:8443/fcm/send/abc",
                "keys": new_subscription("https://x")[0]["keys"],
            },
            allowed_hosts=["fcm.googleapis.com"],
            allow_http=False,
        )
