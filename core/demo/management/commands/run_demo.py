import os
import socket
import subprocess
import sys
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core.demo.calendars import DEMO_WEEK
from core.demo.mailbox import start_mailbox
from core.demo.management.commands.seed_demo import format_accounts
from core.demo.school import CLASS_3A, build_demo_school, ensure_lesson_now
from core.env import MAILBOX_PORT_OFFSET, local_site_url
from core.scheduler.loop import scheduler_loop


class Command(BaseCommand):
    help = (
        "Migrate, build the demo collège, print its accounts and serve the hub "
        "(HTTP and WebSocket, Daphne) with the scheduler in a thread, a task "
        "worker (push, e-mail) beside it and a local mailbox in var/mail/."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--no-serve", action="store_true", help="set up only")

    def handle(self, *args, addr, port, no_serve, **options):
        if port is None:
            port = settings.LOCAL_PORT  # PORT
        if "SITE_URL" not in os.environ:
            # Links in e-mails (export, password reset, new device) point at
            # this server, here and in the task worker started below.
            os.environ["SITE_URL"] = settings.SITE_URL = local_site_url(addr, port)
        local_mailbox = "EMAIL_HOST" not in os.environ
        if local_mailbox and "EMAIL_PORT" not in os.environ:
            settings.EMAIL_PORT = port + MAILBOX_PORT_OFFSET
            os.environ["EMAIL_PORT"] = str(settings.EMAIL_PORT)
        if not no_serve:
            # Both ports are checked before anything is printed: a second
            # `make run` stops here with a sentence, not a traceback.
            ensure_port_free(addr, port, "PORT", "le hub (HTTP)")
            if local_mailbox:
                ensure_port_free(
                    settings.EMAIL_HOST,
                    settings.EMAIL_PORT,
                    "EMAIL_PORT",
                    "la boîte mail locale",
                )
        call_command("migrate", interactive=False, verbosity=0)
        accounts = build_demo_school()
        lesson = ensure_lesson_now()
        # 3e A's 2025-26 timetable opens on the week its changes land in.
        settings.TIMETABLE_DEFAULT_WEEK = settings.TIMETABLE_DEFAULT_WEEK or str(
            DEMO_WEEK
        )
        base = local_site_url(addr, port)
        mail_dir = settings.VAR_DIR / "mail"
        self.stdout.write(
            f"\nHub ENT, collège de démonstration : {base}/\n\n"
            f"{format_accounts(accounts)}\n\n"
            f"Emploi du temps de la {CLASS_3A} (semaine du {DEMO_WEEK:%d/%m/%Y}) :\n"
            f"  {base}/timetable/?week={DEMO_WEEK:%Y-%m-%d}\n"
            "Pour voir arriver en direct un cours annulé, trois déplacés et "
            "trois changements de salle :\n"
            "  make demo-after\n"
            f"Cours en cours pour faire l'appel (prof) : {base}/absences/roll-call/{lesson.pk}/\n"
            f"Administration : {base}/admin/\n"
            f"Réglages des notifications : {base}/settings/notifications/\n"
            + (
                "Les e-mails (immédiats, récapitulatifs de 18 h) arrivent dans "
                f"{mail_dir}/ (boîte mail locale, port {settings.EMAIL_PORT})\n"
                if local_mailbox
                else f"Les e-mails partent par {settings.EMAIL_HOST}:"
                f"{settings.EMAIL_PORT}\n"
            )
        )
        if no_serve:
            return
        mailbox = None
        if local_mailbox:
            try:
                mailbox = start_mailbox(
                    settings.EMAIL_HOST, settings.EMAIL_PORT, mail_dir
                )
            except OSError as error:
                raise CommandError(
                    port_taken_message(
                        settings.EMAIL_HOST,
                        settings.EMAIL_PORT,
                        "EMAIL_PORT",
                        "la boîte mail locale",
                    )
                ) from error
        # The task worker runs as its own process, as in production.
        worker = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--queue-name",
                "*",
                "--interval",
                "0.5",
            ],
            cwd=settings.BASE_DIR,
        )
        stop = threading.Event()
        thread = threading.Thread(
            target=scheduler_loop, args=(60.0, stop), name="scheduler", daemon=True
        )
        thread.start()
        try:
            call_command("runserver", f"{addr}:{port}", use_reloader=False)
        finally:
            stop.set()
            worker.terminate()
            worker.wait(10)
            if mailbox is not None:
                mailbox.stop()


def ensure_port_free(host: str, port: int, variable: str, what: str) -> None:
    """Raise ``CommandError`` with a clear sentence if ``host:port`` is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the servers do: a port left in TIME_WAIT by a run just stopped
        # is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CommandError(
                port_taken_message(host, port, variable, what)
            ) from error


def port_taken_message(host: str, port: int, variable: str, what: str) -> str:
    """Say, in French then in English, which port is taken and what to do.

    A second hub gets its own VAR_DIR too: on the same one, both would share
    the database and the task queue, and an e-mail's links would name
    whichever hub's worker sent it."""
    if variable != "PORT":
        return (
            f"Le port {port} ({host}) pour {what} est déjà utilisé. Arrêtez ce "
            f"qui l'occupe, ou choisissez-en un autre : {variable}={port + 1} "
            f"make run\n"
            f"Port {port} on {host} is already in use; stop the other server or "
            f"set {variable}."
        )
    other = f"PORT={port + 1} VAR_DIR=var/port-{port + 1} make run"
    return (
        f"Le port {port} ({host}) pour {what} est déjà utilisé, sans doute par "
        f"un autre « make run ». Arrêtez-le, ou lancez un second hub sur un "
        f"autre port avec ses propres données (base, e-mails) : {other}\n"
        f"Port {port} on {host} is already in use; stop the other server, or "
        f"start another hub with its own data: {other}"
    )
