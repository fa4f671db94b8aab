"""E-mail digests: naive ``aiosmtplib.send`` per mail vs ``SmtpBatchSender``.

One command::

    .venv/bin/python bench/digest_throughput.py --digests 5000

What it does:

1. starts a real SMTP server (aiosmtpd) on a free port in a **separate
   process** (``multiprocessing``, spawn), so it shares neither the sender's
   event loop nor its GIL; it counts each accepted message and discards it;
2. composes ``--digests`` realistic French digests with
   :func:`hub.delivery.mail.compose` (3 to 8 items each, about 1 to 3
   children, seeded) and times composition and serialisation per mail;
3. sends them all the naive way: ``await aiosmtplib.send(message,
   hostname=…, port=…)`` once per mail, one after another (a new connection,
   greeting, EHLO, MAIL, RCPT, DATA and QUIT for each mail);
4. sends them all again with :meth:`SmtpBatchSender.send_many`
   (``--connections`` persistent connections, groups of ``--group-size``).
   Its ``before_send`` and ``on_result`` callbacks are **no-ops**: the cost of
   the caller's ledger (database writes per group and per mail) is not in
   these figures;
5. checks the server received every mail of each phase and prints mails per
   second for both, their ratio, and the composition cost per mail.
"""

import argparse
import asyncio
import multiprocessing
import os
import random
import socket
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SITE = "https://ent.college-des-tilleuls.example"
PARIS = ZoneInfo("Europe/Paris")
FIRST_NAMES = ["Léa", "Tom", "Inès", "Hugo", "Chloé", "Noé", "Zoé", "Maël", "Anaïs"]
SURNAMES = ["Moreau", "Dubois", "Petit", "Bernard", "Lefèvre", "Girard", "N'Diaye"]
SUBJECTS = ["mathématiques", "français", "SVT", "histoire-géographie", "anglais"]
TEACHERS = ["Mme Fontaine", "M. Marchal", "Mme Benali", "M. Roussel"]


# Server side (runs in its own process) -------------------------------------


class _CountingHandler:
    def __init__(self, counter) -> None:
        self.counter = counter

    async def handle_DATA(self, server, session, envelope):
        self.counter.value += 1  # the only writer: no lock needed
        return "250 OK: queued"


def serve(port: int, counter, ready) -> None:
    """Run an aiosmtpd server on 127.0.0.1:``port`` until terminated."""
    from aiosmtpd.smtp import SMTP

    handler = _CountingHandler(counter)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(handler, hostname="bench.local"), "127.0.0.1", port
        )
    )
    ready.set()
    loop.run_forever()


# Client side ---------------------------------------------------------------


def realistic_items(rng: random.Random, now: datetime):
    """3 to 8 digest items about 1 to 3 children (and a few general ones)."""
    from hub.delivery.mail import DigestItem

    children = rng.sample(FIRST_NAMES, rng.choice([1, 1, 2, 2, 3]))
    items = []
    for n in range(rng.randint(3, 8)):
        child = rng.choice(children + [""]) if n else children[0]
        subject, teacher = rng.choice(SUBJECTS), rng.choice(TEACHERS)
        kind = rng.randrange(5) if child else 5
        title, body, label, path = [
            (
                f"{child} absent(e) en {subject}",
                f"{teacher} a noté {child} absent(e) au cours de {subject} de "
                f"{rng.randint(8, 16)} h. Pensez à justifier l'absence.",
                "Absences et retards",
                f"/attendance/absences/{rng.randint(1, 99999)}/",
            ),
            (
                f"Cours de {subject} annulé",
                f"Le cours de {subject} de {teacher} est annulé ; "
                "les élèves restent en permanence.",
                "Emploi du temps",
                "/timetable/",
            ),
            (
                f"Nouvelle note en {subject} : {rng.randint(6, 20)}/20",
                f"Contrôle « chapitre {rng.randint(1, 9)} », coefficient 2.",
                "Notes",
                "/grades/",
            ),
            (
                f"Devoir de {subject} pour jeudi",
                f"Exercices {rng.randint(1, 5)} à {rng.randint(6, 12)} "
                f"p. {rng.randint(20, 240)}.",
                "Cahier de textes",
                "/homework/",
            ),
            (
                "Justificatif accepté",
                f"Le justificatif de l'absence de {child} a été accepté par la vie "
                "scolaire.",
                "Justificatifs",
                f"/attendance/excuses/{rng.randint(1, 9999)}/",
            ),
            (
                "Réunion parents-professeurs",
                "La réunion des 4e aura lieu jeudi à 18 h en salle polyvalente. "
                "Merci de confirmer votre présence.",
                "Annonces",
                f"/news/{rng.randint(1, 500)}/",
            ),
        ][kind]
        when = now - timedelta(minutes=rng.randint(5, 60 * 20))
        items.append(DigestItem(title, body, SITE + path, when, label, child))
    return items


def compose_digests(count: int):
    """Return ``count`` composed digests and the seconds spent composing."""
    from hub.delivery import mail

    rng = random.Random(20261130)
    now = datetime(2026, 11, 30, 18, 0, tzinfo=PARIS)
    inputs = []
    for n in range(count):
        name = f"{rng.choice(['Karine', 'Sophie', 'Karim', 'Paul', 'Aïcha'])} "
        name += rng.choice(SURNAMES)
        inputs.append((n, name, realistic_items(rng, now)))
    messages = []
    started = time.perf_counter()
    for n, name, items in inputs:
        messages.append(
            mail.compose(
                to_name=name,
                to_address=f"parent{n}@example.org",
                subject=f"Résumé du lundi 30 novembre : {len(items)} nouveautés",
                intro="Voici ce qui s'est passé aujourd'hui au collège.",
                items=items,
                unsubscribe_url=f"{SITE}/unsubscribe/"
                f"{mail.unsubscribe_token(n, 'all')}/",
                settings_url=f"{SITE}/settings/notifications/",
                message_id=mail.make_message_id(n, "daily:2026-11-30"),
            )
        )
    return messages, time.perf_counter() - started


async def send_naive(messages, port: int) -> float:
    import aiosmtplib

    started = time.perf_counter()
    for message in messages:
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
    return time.perf_counter() - started


async def send_batch(messages, port: int, connections: int, group_size: int):
    from hub.delivery.smtp import OutgoingMail, SmtpBatchSender

    mails = [OutgoingMail.of(n, message) for n, message in enumerate(messages)]

    async def before_send(keys):  # no-op: no ledger cost is measured
        return None

    async def on_result(key, outcome, reason):  # no-op, as above
        return None

    sender = SmtpBatchSender(
        host="127.0.0.1",
        port=port,
        connections=connections,
        group_size=group_size,
        timeout=30,
    )
    async with sender:
        started = time.perf_counter()
        results = await sender.send_many(mails, before_send, on_result)
        elapsed = time.perf_counter() - started
    return elapsed, results, sender.connects


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digests", type=int, default=5000)
    parser.add_argument(
        "--naive",
        type=int,
        default=None,
        help="mails sent the naive way (default: all of them)",
    )
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--group-size", type=int, default=8)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + os.urandom(16).hex())
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()

    context = multiprocessing.get_context("spawn")
    counter, ready = context.Value("q", 0, lock=False), context.Event()
    port = free_port()
    server = context.Process(target=serve, args=(port, counter, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise SystemExit("the SMTP server did not start")
        from hub.delivery.mail import compose  # noqa: F401  (warm the templates)

        messages, compose_seconds = compose_digests(args.digests)
        started = time.perf_counter()
        sizes = [len(message.as_bytes()) for message in messages]
        serialise_seconds = time.perf_counter() - started

        naive_messages = messages[: args.naive or len(messages)]
        naive_seconds = asyncio.run(send_naive(naive_messages, port))
        naive_count = counter.value
        assert naive_count == len(naive_messages), (naive_count, len(naive_messages))

        batch_seconds, results, connects = asyncio.run(
            send_batch(messages, port, args.connections, args.group_size)
        )
        batch_count = counter.value - naive_count
        outcomes = statistics.multimode(results.values())
        assert set(results.values()) == {"sent"}, outcomes
        assert batch_count == len(messages), (batch_count, len(messages))
    finally:
        server.terminate()
        server.join(10)

    naive_rate = len(naive_messages) / naive_seconds
    batch_rate = len(messages) / batch_seconds
    count = len(messages)
    print(
        f"\ndigest e-mails: {count} digests, median {statistics.median(sizes)} "
        f"bytes, aiosmtpd in its own process on 127.0.0.1"
    )
    print(
        f"composition  compose() {compose_seconds / count * 1e6:7.0f} µs/mail, "
        f"as_bytes() {serialise_seconds / count * 1e6:5.0f} µs/mail "
        f"({count / (compose_seconds + serialise_seconds):.0f} mails/s on one core)"
    )
    print(
        f"naive        aiosmtplib.send per mail: {len(naive_messages)} mails in "
        f"{naive_seconds:6.2f} s = {naive_rate:7.0f} mails/s"
    )
    print(
        f"batch        SmtpBatchSender ({args.connections} connections, groups of "
        f"{args.group_size}, no-op callbacks, {connects} connects): {count} mails in "
        f"{batch_seconds:6.2f} s = {batch_rate:7.0f} mails/s"
    )
    print(f"ratio        batch / naive = {batch_rate / naive_rate:.1f}x")


if __name__ == "__main__":
    main()
