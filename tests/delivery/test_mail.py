"""Notification e-mails: composition (hub.delivery.email_message) and the
e-mail transport (hub.delivery.transports.email) against a real SMTP server
(``smtp_server`` fixture)."""

import asyncio
import email
import email.header
import email.utils
import re
from datetime import UTC, datetime
from email.policy import default
from zoneinfo import ZoneInfo

import pytest
from django.core import signing
from django.core.mail import EmailMultiAlternatives

from hub.delivery import email_format, email_message, unsubscribe_tokens
from hub.delivery.email_message import DigestItem, compose
from hub.delivery.transports.email import EmailTransport
from hub.delivery.transports.smtp_wire import OutgoingMail
from tests.delivery.smtp_server import free_port

PARIS = ZoneInfo("Europe/Paris")
SITE = "https://ent.example.org"


def item(title="Absence en mathématiques", child="Léa", hour=8, minute=5, **kw):
    return DigestItem(
        title=title,
        body=kw.get("body", "Léa a été notée absente de 8 h à 9 h."),
        url=kw.get("url", f"{SITE}/attendance/"),
        when=kw.get("when", datetime(2026, 11, 30, hour, minute, tzinfo=PARIS)),
        category_label=kw.get("category_label", "Absences et retards"),
        child_name=child,
    )


def make(items=None, **overrides):
    options = {
        "to_name": "Karine Moreau",
        "to_address": "karine@example.org",
        "subject": "Résumé du jour",
        "intro": "Voici les nouvelles de la journée.",
        "items": [item()] if items is None else items,
        "unsubscribe_url": f"{SITE}/unsubscribe/TOKEN/",
        "settings_url": f"{SITE}/settings/notifications/",
    }
    return compose(**(options | overrides))


def received(message):
    """The message as a recipient's client parses it."""
    return email.message_from_bytes(message.as_bytes(), policy=default)


def parts(message):
    parsed = received(message)
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    return parsed, text, html


# Composition ---------------------------------------------------------------


def test_plain_text_and_html_alternatives():
    parsed, text, html = parts(make())
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert "Bonjour Karine Moreau," in text
    assert "Absence en mathématiques" in text and f"{SITE}/attendance/" in text
    assert "Bonjour Karine Moreau," in html
    assert f'href="{SITE}/attendance/"' in html
    assert "Gérer mes notifications" in text and "Se désabonner" in text
    assert f'href="{SITE}/settings/notifications/"' in html
    assert f'href="{SITE}/unsubscribe/TOKEN/"' in html
    assert parsed.as_bytes().isascii()  # 7-bit: no 8BITMIME needed


def test_accents_and_emoji_in_name_and_subject_round_trip():
    name = "Zoé Lefèvre-Dupré 👩‍👧"
    subject = "Résumé : 3 nouveautés pour Léa 📚 — « sortie » à 8 h"
    message = make(to_name=name, subject=subject)
    raw = message.as_bytes()
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()
    assert b"=?utf-8?" in header_block  # RFC 2047 encoded-words
    parsed = received(message)
    assert parsed["Subject"] == subject
    (to,) = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == (name, "karine@example.org")


@pytest.mark.parametrize(
    "name,subject",
    [
        ('Moreau, Karine "Kiki" (maman)', "Plain ASCII subject " * 6),
        ("Jean-Christophe Alexandre de la Fontaine-Dupont  " * 2 + "fils", "x"),
        ("Ève-Marie d'Aubigné-Lefèvre de la Tour du Pin 🏫" * 2, "Été 🌞 " * 30),
        ("Jean =?utf-8?q?Faux?=", "=?utf-8?b?U3Bvb2Y=?= 100 % réel"),
    ],
)
def test_long_and_tricky_headers_round_trip(name, subject):
    message = make(to_name=name, subject=subject)
    header_block = message.as_bytes().split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()
    lines = header_block.split(b"\r\n")
    assert max(len(line) for line in lines if b"List-Unsubscribe" not in line) <= 78
    parsed = received(message)
    assert parsed["Subject"] == subject.strip()
    # RFC 2047 §6.2: white space between adjacent encoded-words is ignored.
    raw_to = dict(message.raw_items())["To"]
    words = email.header.decode_header(raw_to.replace("\r\n", ""))
    decoded = str(email.header.make_header(words))
    assert decoded.endswith(" <karine@example.org>")
    display = decoded.removesuffix(" <karine@example.org>")
    assert display == name or email.utils.parseaddr(decoded)[0] == name
    if len(name.encode()) < 40:  # one encoded-word: Python's parser agrees
        (to,) = parsed["To"].addresses
        assert (to.display_name, to.addr_spec) == (name, "karine@example.org")


def test_invalid_or_non_ascii_address_is_refused():
    for address in ["not an address", "a@b@c", "zoé@exemple.fr", ""]:
        with pytest.raises(ValueError):
            make(to_address=address)


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r", "\x00", "\u2028"])
def test_line_breaks_in_name_and_subject_inject_no_header(newline):
    message = make(
        to_name=f"Karine{newline}Bcc: pirate@evil.example",
        subject=f"Bonjour{newline}Bcc: pirate@evil.example{newline}X-Evil: 1",
    )
    parsed = received(message)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert "pirate@evil.example" not in [a.addr_spec for a in parsed["To"].addresses]
    # Each control character became a space (CRLF: two).
    assert (
        parsed["Subject"].split()
        == "Bonjour Bcc: pirate@evil.example X-Evil: 1".split()
    )
    name = parsed["To"].addresses[0].display_name
    assert name.split() == ["Karine", "Bcc:", "pirate@evil.example"]


def test_fast_serialisation_matches_the_email_generator():
    """compose()'s message writes itself out without the email generator:
    byte for byte what the generator writes, also after changes."""
    from email.message import EmailMessage

    def standard(message, policy=email_format.MAIL_POLICY):
        return EmailMessage.as_bytes(message, policy=policy)

    many = [item(child=c, hour=h) for c in ("Léa", "Tom", "") for h in (7, 9)]
    messages = [
        make(),
        make(items=many, to_name="Zoé 👩‍👧 " * 8, subject="Été 🌞 " * 20),
        make(items=[item(body=".leading dot\r\nCRLF\rCR\n\n\nend.")]),
        make(to_name="", intro=""),
    ]
    for message in messages:
        assert message.as_bytes() == standard(message)
        assert bytes(message) == standard(message)
    changed = make()
    changed["X-Extra"] = "Été"
    del changed["Subject"]
    changed.get_payload()[0].set_payload("autre\ntexte\n")
    assert changed.as_bytes() == standard(changed)
    changed.set_boundary("other")
    assert changed.as_bytes() == standard(changed)
    other = make()  # another policy (LF line ends): the generator
    assert other.as_bytes(policy=default) == standard(other, default)
    assert b"\r\n" not in other.as_bytes(policy=default)


def test_html_is_escaped():
    evil = item(title="<script>alert('x')</script> & co", body="<b>gras</b>")
    _, text, html = parts(make(items=[evil], to_name="<img src=x>"))
    assert "<script>" not in html and "<b>gras</b>" not in html
    assert "<img src=x>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;gras&lt;/b&gt;" in html
    assert "<script>alert('x')</script> & co" in text  # plain text is not HTML


def test_css_is_inlined():
    _, _, html = parts(make(items=[item(), item(child="Tom"), item(child="")]))
    assert "<style" not in html
    tags = re.findall(r"<(\w+)([^>]*)>", html)
    with_class = [attrs for _, attrs in tags if "class=" in attrs]
    assert len(with_class) > 10
    assert all("style=" in attrs for attrs in with_class)
    assert re.search(r'<body[^>]*style="[^"]*background-color', html)


def test_list_unsubscribe_and_other_headers():
    message_id = email_message.make_message_id(42, "daily:2026-11-30")
    parsed = received(make(message_id=message_id))
    assert parsed["List-Unsubscribe"] == f"<{SITE}/unsubscribe/TOKEN/>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Content-Language"] == "fr"
    assert parsed["Message-ID"] == message_id
    assert parsed["From"] == "Hub ENT <notifications@localhost>"
    assert parsed["Date"].datetime.tzinfo is not None


def test_a_notification_mail_is_a_django_email_any_backend_sends(mailoutbox):
    """Composed with EmailMultiAlternatives: Django's own backends (here
    locmem; SMTP and console write ``as_bytes(linesep="\r\n")``) send it
    with the same bytes the e-mail transport would."""
    mail_ = email_message.notification_email(
        to_name="Zoé Lefèvre",
        to_address="zoe@example.org",
        subject="Résumé du jour",
        intro="",
        items=[item()],
        unsubscribe_url=f"{SITE}/unsubscribe/TOKEN/",
        settings_url=f"{SITE}/settings/notifications/",
        message_id="<hub.1.daily.2026-11-30@localhost>",
    )
    assert isinstance(mail_, EmailMultiAlternatives)
    assert mail_.recipients() == ["zoe@example.org"]
    assert [mimetype for _, mimetype in mail_.alternatives] == ["text/html"]
    assert mail_.send() == 1
    [sent] = mailoutbox
    raw = sent.message().as_bytes(linesep="\r\n")
    ours = mail_.message().as_bytes()
    assert raw.split(b"\r\nDate: ")[0] == ours.split(b"\r\nDate: ")[0]
    assert raw.split(b"\r\nMessage-ID: ")[1] == ours.split(b"\r\nMessage-ID: ")[1]
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed["Subject"] == "Résumé du jour"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Bonjour Zoé Lefèvre," in parsed.get_body(("plain",)).get_content()


def test_a_long_unsubscribe_url_stays_one_url():
    """Folding would turn it into encoded-words, which List-Unsubscribe does
    not allow (RFC 2369 §2): it stays on one line (up to 998, RFC 5322)."""
    token = unsubscribe_tokens.unsubscribe_token(1234567, "all")
    url = f"https://ent.college-des-tilleuls.example/unsubscribe/{token}/"
    message = make(unsubscribe_url=url)
    raw = message.as_bytes()
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in raw
    assert received(message)["List-Unsubscribe"] == f"<{url}>"
    with pytest.raises(ValueError):
        make(unsubscribe_url=f"{SITE}/unsubscribe/{'x' * 900}/")


def test_message_id_is_deterministic_and_valid():
    first = email_message.make_message_id(42, "daily:2026-11-30")
    assert first == email_message.make_message_id(42, "daily:2026-11-30")
    assert first == "<hub.42.daily.2026-11-30@localhost>"
    ids = {
        email_message.make_message_id(user, period)
        for user in (1, 2)
        for period in ("now:7", "now:8", "weekly:2026-W48", "x y:é", ":")
    }
    assert len(ids) == 10
    for value in ids:
        assert re.fullmatch(r"<[A-Za-z0-9=_-]+(\.[A-Za-z0-9=_-]+)*@localhost>", value)
    assert received(make())["Message-ID"].endswith("@localhost>")  # random one
    with pytest.raises(ValueError):
        make(message_id="no at sign")
    assert received(make(message_id="a.b@c.d"))["Message-ID"] == "<a.b@c.d>"


def test_unsubscribe_token_round_trip_and_tampering():
    token = unsubscribe_tokens.unsubscribe_token(42, "grades")
    assert unsubscribe_tokens.read_unsubscribe_token(token) == (42, "grades")
    assert unsubscribe_tokens.read_unsubscribe_token(
        unsubscribe_tokens.unsubscribe_token(7, "all")
    ) == (7, "all")
    assert re.fullmatch(r"[A-Za-z0-9_:-]+", token)  # fits in a URL path
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    # Another user's payload under this token's signature.
    other = unsubscribe_tokens.unsubscribe_token(43, "grades")
    spliced = other.rsplit(":", 1)[0] + ":" + token.rsplit(":", 1)[1]
    for bad in [tampered, spliced, "garbage", ""]:
        with pytest.raises(signing.BadSignature):
            unsubscribe_tokens.read_unsubscribe_token(bad)
    other_salt = signing.dumps([42, "grades"], salt="another")
    wrong_shape = signing.dumps({"u": 42}, salt=unsubscribe_tokens.UNSUBSCRIBE_SALT)
    for bad in [other_salt, wrong_shape]:
        with pytest.raises(signing.BadSignature):
            unsubscribe_tokens.read_unsubscribe_token(bad)
    with pytest.raises(ValueError):
        unsubscribe_tokens.unsubscribe_token(42, "nonsense")


def test_items_grouped_by_child_then_general_in_time_order():
    items = [
        item("Annonce générale", child="", hour=9),
        item("Devoir de Tom", child="Tom", hour=11),
        item("Retard de Léa (2)", child="Léa", hour=10),
        item("Retard de Léa (1)", child="Léa", hour=7),
    ]
    _, text, html = parts(make(items=items))
    order = ["== Léa ==", "Retard de Léa (1)", "Retard de Léa (2)", "== Tom =="]
    order += ["Devoir de Tom", "== Général ==", "Annonce générale"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    headings = re.findall(r"<h2[^>]*>([^<]*)</h2>", html)
    assert headings == ["Léa", "Tom", "Général"]


def test_single_general_item_has_no_heading():
    _, text, html = parts(make(items=[item(child="")]))
    assert "Général" not in text and "<h2" not in html


def test_times_are_shown_in_the_given_zone():
    items = [
        item(when=datetime(2026, 11, 30, 8, 5, tzinfo=PARIS)),
        item(when=datetime(2026, 12, 6, 23, 59, tzinfo=UTC), child="Tom"),
    ]
    _, text, html = parts(make(items=items))
    assert "lun. 30/11 08:05" in text and "lun. 30/11 08:05" in html
    assert "dim. 06/12 23:59" in text  # not converted to the server's zone
    with pytest.raises(ValueError):
        make(items=[item(when=datetime(2026, 11, 30, 8, 5))])  # naive


def test_item_urls_must_be_absolute_http():
    with pytest.raises(ValueError):
        make(items=[item(url="javascript:alert(1)")])
    with pytest.raises(ValueError):
        make(items=[item(url="/attendance/")])


# Sending -------------------------------------------------------------------


def outgoing(count, address=lambda n: f"parent{n}@example.org"):
    mails = []
    for n in range(count):
        message = make(
            to_address=address(n),
            message_id=email_message.make_message_id(n, "daily:2026-11-30"),
            items=[item(title=f"Nouvelle n°{n}")],
        )
        mails.append(OutgoingMail.of(n, message))
    return mails


def test_outgoing_mail_of_a_composed_message():
    message = make(to_name="Zoé, « maman »")
    message["Cc"] = "Paul <paul@example.org>"
    message["Bcc"] = "archive@example.org"
    mail_ = OutgoingMail.of("k", message)
    assert mail_.sender == "notifications@localhost"
    assert mail_.recipients == [
        "karine@example.org",
        "paul@example.org",
        "archive@example.org",
    ]
    assert message["Bcc"] is None and b"archive@" not in message.as_bytes()


class Ledger:
    """What a caller's EmailSend rows would hold, step by step."""

    def __init__(self):
        self.sending: list = []
        self.groups: list[list] = []
        self.results: dict = {}

    async def before_send(self, keys):
        assert not set(keys) & set(self.results)
        self.groups.append(list(keys))
        self.sending.extend(key for key in keys if key not in self.sending)

    async def on_result(self, key, outcome, reason):
        assert key not in self.results
        # Only a mail that was never handed over may skip before_send.
        assert key in self.sending or (outcome, reason[:9]) == ("deferred", "not sent:")
        self.results[key] = (outcome, reason)


def sender_for(server, **options):
    options = {"connections": 2, "timeout": 5.0, "local_hostname": "test"} | options
    return EmailTransport(host=server.host, port=server.port, **options)


def delivered(server):
    """Message-ID -> number of times the server stored it."""
    return {mid: len(found) for mid, found in server.by_message_id().items()}


async def test_batch_reuses_connections(smtp_server):
    ledger = Ledger()
    async with sender_for(smtp_server, group_size=5) as sender:
        results = await sender.send_many(
            outgoing(50), ledger.before_send, ledger.on_result
        )
    assert results == {n: "sent" for n in range(50)}
    assert {k: o for k, (o, _) in ledger.results.items()} == results
    assert all(len(group) <= 5 for group in ledger.groups)
    assert sorted(ledger.sending) == list(range(50))
    assert smtp_server.connections <= 2 and sender.connects <= 2
    counts = delivered(smtp_server)
    assert len(counts) == 50 and set(counts.values()) == {1}
    first = smtp_server.messages[0]
    assert first.mail_from == "notifications@localhost"
    assert len(first.rcpt_tos) == 1


async def test_injected_bcc_reaches_nobody(smtp_server):
    message = make(
        to_name="Karine\r\nBcc: pirate@evil.example",
        subject="Salut\r\nBcc: pirate@evil.example",
    )
    async with sender_for(smtp_server) as sender:
        await sender.send_many([OutgoingMail.of("k", message)])
    (got,) = smtp_server.messages
    assert got.rcpt_tos == ["karine@example.org"]
    assert got.message["Bcc"] is None
    assert got.message["Subject"] == "Salut  Bcc: pirate@evil.example"


async def test_refused_recipient_is_refused_and_the_rest_sent(smtp_server):
    smtp_server.faults.refuse = {"parent3@example.org"}
    ledger = Ledger()
    async with sender_for(smtp_server) as sender:
        results = await sender.send_many(
            outgoing(10), ledger.before_send, ledger.on_result
        )
    assert results[3] == "refused"
    assert "550" in ledger.results[3][1]
    assert all(results[n] == "sent" for n in range(10) if n != 3)
    assert len(smtp_server.messages) == 9
    assert smtp_server.connections <= 2  # RSET, not a new connection


async def test_one_of_two_recipients_refused_still_sends(smtp_server):
    smtp_server.faults.refuse = {"gone@example.org"}
    (one,) = outgoing(1)
    one.recipients.append("gone@example.org")
    ledger = Ledger()
    async with sender_for(smtp_server) as sender:
        results = await sender.send_many([one], ledger.before_send, ledger.on_result)
    assert results == {0: "sent"}
    assert "gone@example.org: 550" in ledger.results[0][1]
    assert smtp_server.messages[0].rcpt_tos == ["parent0@example.org"]


async def test_temporary_failure_is_deferred(smtp_server):
    smtp_server.faults.defer = {"parent1@example.org"}
    ledger = Ledger()
    async with sender_for(smtp_server) as sender:
        results = await sender.send_many(
            outgoing(4), ledger.before_send, ledger.on_result
        )
    assert results == {0: "sent", 1: "deferred", 2: "sent", 3: "sent"}
    assert "451" in ledger.results[1][1]


async def test_no_final_reply_in_time_is_uncertain_but_was_stored(smtp_server):
    smtp_server.faults.slow_data = {"parent2@example.org"}
    smtp_server.faults.data_delay = 1.5
    ledger = Ledger()
    async with sender_for(smtp_server, timeout=0.4) as sender:
        results = await sender.send_many(
            outgoing(6), ledger.before_send, ledger.on_result
        )
    assert results[2] == "uncertain"
    assert "after the content" in ledger.results[2][1]
    assert all(results[n] == "sent" for n in range(6) if n != 2)
    # The server did accept it: resending would make a duplicate.
    assert delivered(smtp_server) == {
        email_message.make_message_id(n, "daily:2026-11-30"): 1 for n in range(6)
    }


async def test_disconnect_after_the_content_is_uncertain(smtp_server):
    smtp_server.faults.drop_in_data = {"parent1@example.org"}
    async with sender_for(smtp_server) as sender:
        results = await sender.send_many(outgoing(5))
    assert results == {0: "sent", 1: "uncertain", 2: "sent", 3: "sent", 4: "sent"}
    assert set(delivered(smtp_server).values()) == {1}
    assert len(smtp_server.messages) == 5


async def test_dropped_connections_are_reopened_without_duplicates(smtp_server):
    smtp_server.faults.drop_after = 7
    ledger = Ledger()
    async with sender_for(smtp_server) as sender:
        results = await sender.send_many(
            outgoing(50), ledger.before_send, ledger.on_result
        )
    assert set(results) == set(range(50))
    assert set(results.values()) <= {"sent", "deferred"}
    sent = {n for n, outcome in results.items() if outcome == "sent"}
    assert len(sent) >= 48  # reopened transparently, at worst one lost race each
    counts = delivered(smtp_server)
    assert set(counts.values()) == {1}  # never delivered twice
    assert set(counts) == {
        email_message.make_message_id(n, "daily:2026-11-30") for n in sent
    }
    assert smtp_server.connections == sender.connects > 2


async def test_server_down_defers_everything():
    sender = EmailTransport(
        host="127.0.0.1",
        port=free_port(),  # nobody listens there
        connections=3,
        timeout=2.0,
    )
    ledger = Ledger()
    async with sender:
        results = await sender.send_many(
            outgoing(10), ledger.before_send, ledger.on_result
        )
    assert results == {n: "deferred" for n in range(10)}
    assert len(ledger.results) == 10


async def test_failing_before_send_stops_before_handing_over(smtp_server):
    ledger = Ledger()
    calls = 0

    async def before_send(keys):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("database is down")
        await ledger.before_send(keys)

    async with sender_for(smtp_server, connections=1, group_size=4) as sender:
        with pytest.raises(RuntimeError):
            await sender.send_many(outgoing(20), before_send, ledger.on_result)
    stored = {r.message["Message-ID"] for r in smtp_server.messages}
    marked = {
        email_message.make_message_id(n, "daily:2026-11-30") for n in ledger.sending
    }
    assert stored == marked and len(stored) == 8


async def test_a_killed_batch_leaves_a_readable_ledger(smtp_server):
    """Cancel send_many mid-batch (as a killed worker): the ledger tells
    "never handed over" (never marked), "sent", and "maybe sent" apart."""
    ledger = Ledger()
    task = None

    async def on_result(key, outcome, reason):
        await ledger.on_result(key, outcome, reason)
        if len(ledger.results) == 13:
            task.cancel()

    async def run():
        async with sender_for(smtp_server, connections=3, group_size=4) as sender:
            await sender.send_many(outgoing(60), ledger.before_send, on_result)

    task = asyncio.ensure_future(run())
    with pytest.raises(asyncio.CancelledError):
        await task
    ids = {n: email_message.make_message_id(n, "daily:2026-11-30") for n in range(60)}
    stored = delivered(smtp_server)
    never_marked = set(range(60)) - set(ledger.sending)
    assert never_marked and not {ids[n] for n in never_marked} & set(stored)
    for key, (outcome, _) in ledger.results.items():
        assert outcome == "sent" and stored[ids[key]] == 1
    in_between = set(ledger.sending) - set(ledger.results)
    maybe_sent = {ids[n] for n in in_between} & set(stored)
    assert len(maybe_sent) <= 3  # at most one in flight per connection
