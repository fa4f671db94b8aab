"""Each transport's ``send()`` raises DeliveryError(permanent, retry_after),
and the one retry policy reads nothing else.

Against the same local push service and SMTP server as ``test_push.py`` and
``test_mail.py``: the errors are what those servers really answered.
"""

import datetime

import pytest

from hub.delivery import retry
from hub.delivery.transports.base import DeliveryError, Transport
from hub.delivery.transports.email import EmailTransport, SmtpError
from hub.delivery.transports.smtp_wire import OutgoingMail
from hub.delivery.transports.webpush import PushError, PushJob, WebPushTransport
from hub.delivery.vapid import VapidSigner, generate_keypair
from tests.delivery.push_endpoint import PushEndpoint
from tests.delivery.smtp_server import free_port
from tests.delivery.test_mail import make

MESSAGE = {"type": "show", "title": "Absence", "body": "Léa", "tag": "absence:1"}


@pytest.fixture
def signer():
    private_pem, _public = generate_keypair()
    return VapidSigner(private_pem, "mailto:vie-scolaire@example.org")


async def push_error(signer, info) -> PushError:
    async with WebPushTransport(signer, timeout=5.0) as transport:
        with pytest.raises(PushError) as raised:
            await transport.send(PushJob(1, info, MESSAGE, ttl=60))
    return raised.value


def test_every_channel_is_a_transport():
    assert issubclass(WebPushTransport, Transport)
    assert issubclass(EmailTransport, Transport)
    assert {WebPushTransport.channel, EmailTransport.channel} == {"push", "email"}
    assert issubclass(PushError, DeliveryError)
    assert issubclass(SmtpError, DeliveryError)


# Web push -------------------------------------------------------------------


async def test_webpush_send_returns_the_sent_outcome(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    async with WebPushTransport(signer) as transport:
        outcome = await transport.send(PushJob(1, info, MESSAGE, ttl=60))
    assert (outcome.result, outcome.status) == ("sent", 201)


async def test_webpush_gone_is_permanent(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    push_endpoint.unsubscribe("a")
    error = await push_error(signer, info)
    assert (error.permanent, error.gone, error.status) == (True, True, 410)
    assert error.retry_after is None


async def test_webpush_429_is_temporary_with_its_retry_after(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    push_endpoint.answer("a", 429, retry_after="120")
    error = await push_error(signer, info)
    assert (error.permanent, error.gone, error.status) == (False, False, 429)
    assert error.retry_after == datetime.timedelta(seconds=120)


async def test_webpush_503_without_retry_after_leaves_the_wait_to_the_policy(
    push_endpoint, signer
):
    info = push_endpoint.subscribe("a")
    push_endpoint.answer("a", 503)
    error = await push_error(signer, info)
    assert (error.permanent, error.status, error.retry_after) == (False, 503, None)


async def test_webpush_400_is_permanent(push_endpoint, signer):
    info = push_endpoint.subscribe("a")
    push_endpoint.answer("a", 400)
    error = await push_error(signer, info)
    assert (error.permanent, error.gone, error.status) == (True, False, 400)


async def test_webpush_connection_refused_is_temporary(signer):
    with PushEndpoint() as gone_service:
        info = gone_service.subscribe("a")
    error = await push_error(signer, info)
    assert (error.permanent, error.status, error.retry_after) == (False, None, None)
    assert error.reason.startswith("network:")


# E-mail ---------------------------------------------------------------------


def one_mail(address="parent1@example.org"):
    return OutgoingMail.of("k", make(to_address=address))


def transport_for(server, **options):
    options = {"connections": 1, "timeout": 5.0, "local_hostname": "test"} | options
    return EmailTransport(host=server.host, port=server.port, **options)


async def test_email_send_returns_when_accepted(smtp_server):
    async with transport_for(smtp_server) as transport:
        assert await transport.send(one_mail()) == ""
    assert len(smtp_server.messages) == 1


async def test_email_refused_is_permanent(smtp_server):
    smtp_server.faults.refuse = {"parent1@example.org"}
    async with transport_for(smtp_server) as transport:
        with pytest.raises(SmtpError) as raised:
            await transport.send(one_mail())
    error = raised.value
    assert (error.outcome, error.permanent, error.retry_after) == (
        "refused",
        True,
        None,
    )
    assert "550" in error.reason


async def test_email_deferred_is_temporary(smtp_server):
    smtp_server.faults.defer = {"parent1@example.org"}
    async with transport_for(smtp_server) as transport:
        with pytest.raises(SmtpError) as raised:
            await transport.send(one_mail())
    assert (raised.value.outcome, raised.value.permanent) == ("deferred", False)
    assert "451" in raised.value.reason


async def test_email_timeout_before_the_content_is_temporary(smtp_server):
    """Nothing was handed over: safe to send again, after the policy's wait."""
    smtp_server.faults.slow_rcpt = {"parent1@example.org"}
    smtp_server.faults.data_delay = 1.5
    async with transport_for(smtp_server, timeout=0.4) as transport:
        with pytest.raises(SmtpError) as raised:
            await transport.send(one_mail())
    assert (raised.value.outcome, raised.value.permanent) == ("deferred", False)
    assert raised.value.reason.startswith("RCPT:")
    assert retry.EMAIL.after(1, raised.value) is not None
    assert smtp_server.messages == []


async def test_email_no_reply_after_the_content_is_permanent(smtp_server):
    """Uncertain: the server may hold it, so it must never be sent again."""
    smtp_server.faults.slow_data = {"parent1@example.org"}
    smtp_server.faults.data_delay = 1.5
    async with transport_for(smtp_server, timeout=0.4) as transport:
        with pytest.raises(SmtpError) as raised:
            await transport.send(one_mail())
    assert (raised.value.outcome, raised.value.permanent) == ("uncertain", True)
    assert retry.EMAIL.after(1, raised.value) is None
    assert len(smtp_server.messages) == 1


async def test_email_server_down_is_temporary():
    transport = EmailTransport(host="127.0.0.1", port=free_port(), timeout=2.0)
    async with transport:
        with pytest.raises(SmtpError) as raised:
            await transport.send(one_mail())
    assert (raised.value.outcome, raised.value.permanent) == ("deferred", False)


# The retry policy -------------------------------------------------------------


def test_a_permanent_error_is_never_retried():
    error = DeliveryError("HTTP 410", permanent=True)
    assert retry.PUSH.after(1, error) is None
    assert retry.EMAIL.after(1, error) is None


def test_retry_after_is_honoured_until_the_budget_is_spent():
    wait = datetime.timedelta(seconds=90)
    error = DeliveryError("HTTP 429", permanent=False, retry_after=wait)
    policy = retry.RetryPolicy(max_attempts=3, base=10)
    assert policy.after(1, error) == wait
    assert policy.after(2, error) == wait
    assert policy.after(3, error) is None
    assert policy.gives_up(3) and not policy.gives_up(2)


def test_without_retry_after_the_policy_backs_off_with_jitter():
    error = DeliveryError("HTTP 503", permanent=False)
    policy = retry.RetryPolicy(max_attempts=10, base=10, cap=60)
    for attempts, bound in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = [policy.after(attempts, error) for _ in range(50)]
        assert all(
            d is not None
            and datetime.timedelta(0) <= d <= datetime.timedelta(seconds=bound)
            for d in delays
        )
        assert len(set(delays)) > 1  # jittered, not one value for every worker


def test_each_channel_has_its_budget():
    assert (retry.PUSH.max_attempts, retry.PUSH.base) == (12, 30)
    assert (retry.EMAIL.max_attempts, retry.EMAIL.base) == (6, 60)
