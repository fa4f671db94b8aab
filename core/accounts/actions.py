"""Writes of the accounts app: issue codes, print letters, send e-mails, activate.

Each write leaves an audit-log row (``core.audit.log``). None emits a hub
event: nobody's open page shows activation codes, and an activation changes
no stream anyone follows (the user's own sockets are closed by
``hub.signals`` when the password changes, as for any password change).

The plain code exists only in memory, between :func:`issue_code` and the
letter or the e-mail that carries it; it is never logged or stored.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from core.accounts import codes, mail
from core.accounts.letters import Letter, Pupil, render_letters
from core.accounts.models import ActivationCode
from core.audit import log as audit
from core.roster.models import Enrollment, GuardianLink, Org, SchoolClass, User

logger = logging.getLogger(__name__)


class CodeNoLongerValid(Exception):
    """The code was spent, revoked or expired between check and use."""


class MailServerUnavailable(Exception):
    """The SMTP server could not be reached: no code was issued."""


# Reads ----------------------------------------------------------------------


def not_activated(users: QuerySet[User]) -> QuerySet[User]:
    """Keep the active users who have never set a password (unusable one)."""
    return users.filter(is_active=True, password__startswith=UNUSABLE_PASSWORD_PREFIX)


def users_of(*, org: Org, school_class: SchoolClass | None = None) -> QuerySet[User]:
    """Return the people of ``org`` (or of one class): pupils, their
    guardians and teachers; for the whole org its staff too."""
    classes = SchoolClass.objects.filter(org=org)
    if school_class is not None:
        classes = classes.filter(pk=school_class.pk)
    members = Enrollment.objects.filter(school_class__in=classes)
    pupils = members.filter(role=Enrollment.Role.STUDENT).values("user_id")
    people = Q(pk__in=members.values("user_id")) | Q(
        pk__in=GuardianLink.objects.filter(student__in=pupils).values("guardian_id")
    )
    if school_class is None:
        people |= Q(pk__in=User.orgs.through.objects.filter(org=org).values("user_id"))
    return User.objects.filter(people)


def without_live_code(users: QuerySet[User]) -> QuerySet[User]:
    """Leave out the users who hold a code that still works."""
    live = ActivationCode.objects.live()
    return users.exclude(pk__in=live.values("user_id"))


def live_codes(user: User, now: dt.datetime | None = None) -> QuerySet[ActivationCode]:
    """Return the codes of ``user`` that may still be used."""
    return ActivationCode.objects.live(now).filter(user=user)


def activation_link(user: User, code: str) -> str:
    """Return the absolute activation link that fills in the login and code.

    Both ride in the URL's fragment, which browsers never send: the link
    reaches no server log, proxy log or ``Referer`` header; the page's script
    copies them into the form (``static/accounts/activate.js``).
    """
    fragment = urlencode({"login": user.get_username(), "code": code}, quote_via=quote)
    return f"{settings.SITE_URL}{reverse('accounts:activate')}#{fragment}"


def find_user(login: str) -> User | None:
    """Return the active user of ``login``: exact, else the one case-blind match."""
    active = User.objects.filter(is_active=True)
    login = login.strip()
    user = active.filter(username=login).first()
    if user is None:
        matches = list(active.filter(username__iexact=login)[:2])
        user = matches[0] if len(matches) == 1 else None
    return user


def check_code(*, login: str, code: str) -> ActivationCode | None:
    """Return the live code of ``login`` that ``code`` matches, or None.

    Unknown login, malformed, wrong, spent, revoked and expired codes all
    give None, after the same work (one hash, one comparison at least).
    """
    user = find_user(login)
    candidates = list(live_codes(user)) if user is not None else []
    typed = codes.digest(code)
    found = None
    for candidate in candidates or [ActivationCode(code_hash="0" * 64)]:
        if constant_time_compare(typed, candidate.code_hash) and candidate.pk:
            found = candidate
    return found


# Writes ---------------------------------------------------------------------


def issue_code(
    *,
    user: User,
    channel: str,
    issued_by: User | None = None,
    now: dt.datetime | None = None,
) -> tuple[ActivationCode, str]:
    """Make a new code for ``user`` and revoke their older live ones.

    Returns the row and the plain code, which the caller prints or sends and
    then forgets. Letters' codes last ``ACCOUNTS_LETTER_CODE_DAYS`` days (30),
    e-mailed ones ``ACCOUNTS_EMAIL_CODE_DAYS`` (3).
    """
    now = now or timezone.now()
    if channel == ActivationCode.Channel.LETTER:
        days = settings.ACCOUNTS_LETTER_CODE_DAYS
    else:
        days = settings.ACCOUNTS_EMAIL_CODE_DAYS
    plain = codes.new_code()
    with transaction.atomic():
        ActivationCode.objects.filter(user=user, used_at=None, revoked_at=None).update(
            revoked_at=now
        )
        row = ActivationCode.objects.create(
            user=user,
            code_hash=codes.digest(plain),
            channel=channel,
            created_at=now,
            expires_at=now + dt.timedelta(days=days),
            issued_by=issued_by,
        )
        audit.record(
            actor=issued_by,
            action="account.code_issued",
            target_type="user",
            target_id=user.pk,
            detail={"channel": channel, "code_id": row.pk},
        )
    return row, plain


def activate_account(
    *,
    activation: ActivationCode,
    password: str,
    email: str,
    ip: str | None = None,
) -> User:
    """Spend ``activation``, set the user's password and e-mail address.

    Raises :class:`CodeNoLongerValid` if the code was spent, revoked or
    expired meanwhile (the update is conditional: two tabs cannot both use
    it). ``password`` has passed the validators already.
    """
    now = timezone.now()
    with transaction.atomic():
        spent = (
            ActivationCode.objects.live(now)
            .filter(pk=activation.pk)
            .update(used_at=now)
        )
        if not spent:
            raise CodeNoLongerValid
        user = User.objects.select_for_update().get(pk=activation.user_id)
        email_changed = email != user.email
        user.set_password(password)
        user.email = email
        user.save(update_fields=["password", "email"])
        audit.record(
            actor=user,
            action="account.activated",
            target_type="user",
            target_id=user.pk,
            ip=ip,
            detail={
                "channel": activation.channel,
                "code_id": activation.pk,
                "email_changed": email_changed,
            },
        )
    return user


def print_letters(
    *, users: QuerySet[User], issued_by: User | None = None, reissue: bool = False
) -> tuple[bytes, int]:
    """Issue a letter code to each user of ``users`` not yet activated and
    return ``(pdf, pages)``: one page per guardian and per pupil, a family's
    pages together.

    Users who hold a code that still works are left out, unless ``reissue``:
    a new code revokes the old one, and a guardian of pupils in two classes
    printed one after the other would otherwise find the first letter void.

    The codes commit with the PDF: if it cannot be rendered, no code is
    issued and the old ones still work (their letters are still valid).
    """
    candidates = not_activated(users)
    if not reissue:
        candidates = without_live_code(candidates)
    pending = {u.pk: u for u in candidates.order_by("pk")}
    if not pending:
        return b"", 0
    families = _Families(pending)
    letters = []
    with transaction.atomic():
        for user in families.in_family_order():
            row, plain = issue_code(
                user=user, channel=ActivationCode.Channel.LETTER, issued_by=issued_by
            )
            letters.append(families.letter(user, plain, row.expires_at))
        pdf = render_letters(letters)
    return pdf, len(letters)


@dataclass
class SendReport:
    """What :func:`send_activation_emails` did, by username."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # No address, activated already, or holding a live code.
    skipped: list[str] = field(default_factory=list)


def send_activation_emails(
    *, users: QuerySet[User], issued_by: User | None = None, reissue: bool = False
) -> SendReport:
    """E-mail an activation link and code to each user of ``users`` with an
    address and not yet activated, over one SMTP connection.

    As for letters, users holding a code that still works are skipped unless
    ``reissue``. A mail the server refuses gets its code revoked (nobody can
    use it). Raises :class:`MailServerUnavailable` (and issues nothing) when
    the server cannot be reached.
    """
    report = SendReport()
    candidates = not_activated(users).exclude(email="")
    if not reissue:
        candidates = without_live_code(candidates)
    pending = set(candidates.values_list("pk", flat=True))
    for user in users.order_by("username"):
        if user.pk not in pending:
            report.skipped.append(user.username)
    targets = list(User.objects.filter(pk__in=pending).order_by("username"))
    if not targets:
        return report
    connection = mail.connection()
    try:
        connection.open()
    except OSError as error:  # smtplib's errors are OSErrors too
        raise MailServerUnavailable(type(error).__name__) from error
    families = _Families({user.pk: user for user in targets})
    with connection:
        for user in targets:
            row, plain = issue_code(
                user=user, channel=ActivationCode.Channel.EMAIL, issued_by=issued_by
            )
            message = mail.activation_message(
                user=user,
                code=plain,
                link=activation_link(user, plain),
                expires_at=row.expires_at,
                school=", ".join(o.name for o in families.orgs_of(user)),
            )
            try:
                connection.send_messages([message])
            except Exception as error:  # smtplib and socket errors alike
                ActivationCode.objects.filter(pk=row.pk).update(
                    revoked_at=timezone.now()
                )
                # The error's text never holds the message (only the reply).
                logger.warning(
                    "activation e-mail to user %s failed: %s",
                    user.pk,
                    type(error).__name__,
                )
                report.failed.append(user.username)
            else:
                report.sent.append(user.username)
    return report


# Letters ---------------------------------------------------------------------


def _chunks(ids: list[int], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class _Families:
    """The roster around the users who get letters, read in a few queries.

    ``children[guardian]``: their children (by first name); ``guardians[pupil]``:
    their guardians' ids; ``classes[pupil]``: their classes, homerooms first;
    ``staff_orgs[user]``: the orgs of anyone else (staff of, then teaching in).
    """

    def __init__(self, pending: dict[int, User]) -> None:
        self.pending = pending
        self.children: dict[int, list[User]] = {}
        self.guardians: dict[int, list[int]] = {}
        self.classes: dict[int, list[SchoolClass]] = {}
        ids = sorted(pending)
        links: list[GuardianLink] = []
        for chunk in _chunks(ids):
            links += GuardianLink.objects.filter(
                Q(guardian_id__in=chunk) | Q(student_id__in=chunk)
            ).select_related("student")
        seen = set()
        for link in sorted(
            links, key=lambda k: (k.student.first_name, k.student.last_name, k.pk)
        ):
            if link.pk in seen:
                continue
            seen.add(link.pk)
            self.children.setdefault(link.guardian_id, []).append(link.student)
            self.guardians.setdefault(link.student_id, []).append(link.guardian_id)
        pupils = sorted(
            {u.pk for u in pending.values() if u.role == User.Role.STUDENT}
            | {c.pk for kids in self.children.values() for c in kids}
        )
        for chunk in _chunks(pupils):
            for enrollment in (
                Enrollment.objects.filter(
                    user_id__in=chunk, role=Enrollment.Role.STUDENT
                )
                .select_related("school_class__org")
                .order_by("school_class__class_type", "school_class__title")
            ):
                self.classes.setdefault(enrollment.user_id, []).append(
                    enrollment.school_class
                )
        self.staff_orgs: dict[int, dict[int, Org]] = {}
        staff = sorted(
            pk
            for pk, u in pending.items()
            if u.role not in (User.Role.GUARDIAN, User.Role.STUDENT)
        )
        for chunk in _chunks(staff):
            for row in (
                User.orgs.through.objects.filter(user_id__in=chunk)
                .select_related("org")
                .order_by("org__name")
            ):
                self.staff_orgs.setdefault(row.user_id, {})[row.org_id] = row.org
        for chunk in _chunks(staff):
            for enrollment in (
                Enrollment.objects.filter(user_id__in=chunk)
                .select_related("school_class__org")
                .order_by("school_class__org__name")
            ):
                org = enrollment.school_class.org
                self.staff_orgs.setdefault(enrollment.user_id, {}).setdefault(
                    org.pk, org
                )

    def pupils_of(self, user: User) -> list[User]:
        if user.role == User.Role.GUARDIAN:
            return self.children.get(user.pk, [])
        return [user] if user.role == User.Role.STUDENT else []

    def orgs_of(self, user: User) -> list[Org]:
        orgs: dict[int, Org] = {}
        for pupil in self.pupils_of(user):
            for school_class in self.classes.get(pupil.pk, []):
                orgs.setdefault(school_class.org_id, school_class.org)
        for pk, org in self.staff_orgs.get(user.pk, {}).items():
            orgs.setdefault(pk, org)
        return list(orgs.values())

    def pupil(self, pupil: User) -> Pupil:
        return Pupil(
            name=pupil.get_full_name() or pupil.username,
            classes=[
                f"{c.title} ({c.org.name})" for c in self.classes.get(pupil.pk, [])
            ],
        )

    def letter(self, user: User, code: str, expires_at: dt.datetime) -> Letter:
        return Letter(
            school=", ".join(o.name for o in self.orgs_of(user)) or "Hub ENT",
            name=user.get_full_name() or user.username,
            role=user.role,
            login=user.get_username(),
            code=code,
            expires_on=timezone.localtime(expires_at).date(),
            site=settings.SITE_URL,
            path=reverse("accounts:activate"),
            link=activation_link(user, code),
            children=[self.pupil(p) for p in self.pupils_of(user)],
        )

    def in_family_order(self) -> list[User]:
        """Order users family by family: a pupil's guardians, then the pupil.

        Pupils go by class, last and first name; a guardian of several comes
        with the first; then guardians whose children get no letter, then
        anyone else.
        """
        pending = self.pending

        def by_class(pupil: User):
            classes = self.classes.get(pupil.pk, [])
            first = classes[0].title if classes else ""
            return (first, pupil.last_name, pupil.first_name, pupil.pk)

        pupils = sorted(
            (u for u in pending.values() if u.role == User.Role.STUDENT), key=by_class
        )
        others = sorted(
            {c.pk: c for kids in self.children.values() for c in kids}.values(),
            key=by_class,
        )
        done: set[int] = set()
        ordered: list[User] = []
        for pupil in [*pupils, *others]:
            for guardian_id in self.guardians.get(pupil.pk, []):
                if guardian_id in pending and guardian_id not in done:
                    done.add(guardian_id)
                    ordered.append(pending[guardian_id])
            if pupil.pk in pending and pupil.pk not in done:
                done.add(pupil.pk)
                ordered.append(pending[pupil.pk])
        ordered += [u for pk, u in sorted(pending.items()) if pk not in done]
        return ordered


# Sessions ("Mes appareils") ---------------------------------------------------


def end_sessions(
    *, user: User, sessions: list, ip: str | None = None, reason: str = "session_ended"
) -> int:
    """End ``sessions`` (:class:`~core.accounts.models.UserSession` rows of
    ``user``): delete them from Django's session store, so the next request
    or socket of those devices finds no login, and close their open sockets
    at once (``hub.realtime.control.close_session_sockets``, on commit). Returns how
    many were ended; one audit row ``account.sessions_ended``."""
    from functools import partial

    from core.accounts.models import UserSession
    from hub.realtime.control import close_session_sockets
    from hub.realtime.sessions import session_store

    rows = [row for row in sessions if row.user_id == user.pk]
    if not rows:
        return 0
    store = session_store()
    with transaction.atomic():
        for row in rows:
            store(row.session_key).delete()
            transaction.on_commit(
                partial(close_session_sockets, row.session_key, reason)
            )
        UserSession.objects.filter(pk__in=[row.pk for row in rows]).delete()
        audit.record(
            actor=user,
            action="account.sessions_ended",
            target_type="user",
            target_id=user.pk,
            ip=ip,
            detail={"count": len(rows), "sessions": [row.pk for row in rows]},
        )
    return len(rows)
