"""E-mail digests: naive ``aiosmtplib.send`` per mail vs ``EmailTransport``.

One command::

    .venv/bin/python bench/digest_throughput.py --digests 5000

What it does:

1. composes ``--digests`` realistic French digests with
   :func:`hub.delivery.email_message.compose` (3 to 8 items each, about 1 to 3
   children, seeded) and times composition and serialisation per mail;
2. for each reply delay of ``--latency-ms`` (default ``0,5``), starts a real
   SMTP server (aiosmtpd) on a free port in a **separate process**
   (``multiprocessing``, spawn), so it shares neither the sender's event loop
   nor its GIL; it counts each accepted message and discards it. With a
   delay, it answers EHLO, MAIL, RCPT and the end of DATA that late, as a
   relay across a network would (the greeting, the ``354`` and QUIT stay
   immediate, which favours the naive way);
3. sends the naive way: ``await aiosmtplib.send(message, hostname=…,
   port=…)`` once per mail, one after another (a new connection, greeting,
   EHLO, MAIL, RCPT, DATA and QUIT for each mail): all the mails without a
   delay, the first ``--naive-with-latency`` (500) with one;
4. sends them all with :meth:`EmailTransport.send_many` (``--connections``
   persistent connections, 16 by default, groups of ``--group-size``). Its
   ``before_send`` and ``on_result`` callbacks are **no-ops**: the cost of
   the caller's ledger (database writes per group and per mail) is not in
   these figures;
5. checks the server received every mail of each phase and prints mails per
   second for both, their ratio, the CPU time per mail of the sender and of
   the server process, and the composition cost per mail.
"""

import argparse
import asyncio
import collections
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
    """Counts and discards; with ``delay`` > 0, answers EHLO, MAIL, RCPT and
    the end of DATA that many seconds late (a relay across a network)."""

    def __init__(self, counter, delay: float) -> None:
        self.counter = counter
        self.delay = delay
        if delay:
            self.handle_EHLO = self._slow_ehlo
            self.handle_MAIL = self._slow_mail
            self.handle_RCPT = self._slow_rcpt

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.counter.value += 1  # the only writer: no lock needed
        return "250 OK: queued"

    async def _slow_ehlo(self, server, session, envelope, hostname, responses):
        await asyncio.sleep(self.delay)
        session.host_name = hostname
        return responses

    async def _slow_mail(self, server, session, envelope, address, options):
        await asyncio.sleep(self.delay)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def _slow_rcpt(self, server, session, envelope, address, options):
        await asyncio.sleep(self.delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def serve(port: int, counter, ready, delay: float) -> None:
    """Run an aiosmtpd server on 127.0.0.1:``port`` until terminated."""
    from aiosmtpd.smtp import SMTP

    handler = _CountingHandler(counter, delay)
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
    from hub.delivery.email_message import DigestItem

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
    from hub.delivery import email_message, unsubscribe_tokens

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
            email_message.compose(
                to_name=name,
                to_address=f"parent{n}@example.org",
                subject=f"Résumé du lundi 30 novembre : {len(items)} nouveautés",
                intro="Voici ce qui s'est passé aujourd'hui au collège.",
                items=items,
                unsubscribe_url=f"{SITE}/unsubscribe/"
                f"{unsubscribe_tokens.unsubscribe_token(n, 'all')}/",
                settings_url=f"{SITE}/settings/notifications/",
                message_id=email_message.make_message_id(n, "daily:2026-11-30"),
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
    from hub.delivery.transports.email import EmailTransport
    from hub.delivery.transports.smtp_wire import OutgoingMail

    mails = [OutgoingMail.of(n, message) for n, message in enumerate(messages)]

    async def before_send(keys):  # no-op: no ledger cost is measured
        return None

    async def on_result(key, outcome, reason):  # no-op, as above
        return None

    sender = EmailTransport(
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


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process or of ``pid`` (Linux /proc)."""
    if pid is None:
        return time.process_time()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def run(messages, latency_ms: float, naive_count: int, args) -> dict:
    """Start a server with ``latency_ms``, send both ways, return the figures."""
    context = multiprocessing.get_context("spawn")
    counter, ready = context.Value("q", 0, lock=False), context.Event()
    port = free_port()
    server = context.Process(
        target=serve, args=(port, counter, ready, latency_ms / 1000), daemon=True
    )
    server.start()
    figures = {"latency": latency_ms}
    try:
        if not ready.wait(30):
            raise SystemExit("the SMTP server did not start")
        phases = [
            ("naive", lambda: send_naive(messages[:naive_count], port), naive_count),
            (
                "batch",
                lambda: send_batch(messages, port, args.connections, args.group_size),
                len(messages),
            ),
        ]
        for name, coroutine, count in phases:
            before = counter.value
            client, served = cpu_seconds(), cpu_seconds(server.pid)
            outcome = asyncio.run(coroutine())
            figures[f"{name}_client_us"] = (cpu_seconds() - client) / count * 1e6
            figures[f"{name}_server_us"] = (
                (cpu_seconds(server.pid) - served) / count * 1e6
            )
            if name == "batch":
                seconds, results, figures["connects"] = outcome
                outcomes = collections.Counter(results.values())
                assert outcomes == {"sent": count}, outcomes
            else:
                seconds = outcome
            assert counter.value - before == count, (counter.value - before, count)
            figures[f"{name}_count"], figures[f"{name}_seconds"] = count, seconds
            figures[f"{name}_rate"] = count / seconds
    finally:
        server.terminate()
        server.join(10)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digests", type=int, default=5000)
    parser.add_argument(
        "--connections",
        type=int,
        default=16,
        help="default 16 (EMAIL_CONNECTIONS defaults to 4)",
    )
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument(
        "--latency-ms",
        default="0,5",
        help="server reply delays to run with, comma-separated (default 0,5)",
    )
    parser.add_argument(
        "--naive-with-latency",
        type=int,
        default=500,
        help="mails sent the naive way in runs with latency (default 500)",
    )
    args = parser.parse_args()
    latencies = [float(value) for value in args.latency_ms.split(",")]

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + os.urandom(16).hex())
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from hub.delivery.email_message import compose

    compose(**sample_arguments())  # loads and inlines the templates
    messages, compose_seconds = compose_digests(args.digests)
    started = time.perf_counter()
    sizes = [len(message.as_bytes()) for message in messages]
    serialise_seconds = time.perf_counter() - started
    count = len(messages)

    load_before = os.getloadavg()[0]
    rows = []
    for latency in latencies:
        naive_count = count if not latency else min(count, args.naive_with_latency)
        rows.append(run(messages, latency, naive_count, args))

    print(
        f"\ndigest e-mails: {count} digests (median {statistics.median(sizes):.0f} "
        f"bytes), aiosmtpd in its own process on 127.0.0.1; batch: "
        f"{args.connections} connections, groups of {args.group_size}, no-op "
        "callbacks"
    )
    print(
        f"load average (1 min) {load_before:.2f} before the sends, "
        f"{os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs"
    )
    print(
        f"composition: compose() {compose_seconds / count * 1e6:.0f} µs/mail, "
        f"as_bytes() {serialise_seconds / count * 1e6:.0f} µs/mail "
        f"({count / (compose_seconds + serialise_seconds):.0f} mails/s on one core)"
    )
    print(
        f"{'reply delay':>11} | {'naive mails/s':>22} | {'batch mails/s':>22} | "
        f"{'ratio':>6} | CPU µs/mail naive (sender+server), batch"
    )
    for row in rows:
        naive = f"{row['naive_rate']:.0f} ({row['naive_count']} mails)"
        batch = f"{row['batch_rate']:.0f} ({row['batch_count']} mails)"
        print(
            f"{row['latency']:>8g} ms | {naive:>22} | {batch:>22} | "
            f"{row['batch_rate'] / row['naive_rate']:>5.1f}x | "
            f"{row['naive_client_us']:.0f}+{row['naive_server_us']:.0f}, "
            f"{row['batch_client_us']:.0f}+{row['batch_server_us']:.0f}"
            f" ({row['connects']} connects)"
        )


def sample_arguments() -> dict:
    from hub.delivery.email_message import DigestItem

    now = datetime(2026, 11, 30, 18, 0, tzinfo=PARIS)
    return {
        "to_name": "Karine Moreau",
        "to_address": "karine@example.org",
        "subject": "Résumé",
        "intro": "",
        "items": [DigestItem("Titre", "", SITE + "/", now, "Annonces", "")],
        "unsubscribe_url": SITE + "/unsubscribe/x/",
        "settings_url": SITE + "/settings/",
    }


if __name__ == "__main__":
    main()
