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

LETTER_DAYS = 30
EMAIL_DAYS = 3


class CodeNoLongerValid(Exception):
    """The code was spent, revoked or expired between check and use."""


# Reads ----------------------------------------------------------------------


def not_activated(users: QuerySet[User]) -> QuerySet[User]:
    """Keep the active users who have never set a password (unusable one)."""
    return users.filter(is_active=True, password__startswith=UNUSABLE_PASSWORD_PREFIX)


def users_of(*, org: Org, school_class: SchoolClass | None = None) -> QuerySet[User]:
    """Return the pupils of ``org`` (or of one class) and their guardians."""
    classes = SchoolClass.objects.filter(org=org)
    if school_class is not None:
        classes = classes.filter(pk=school_class.pk)
    pupils = User.objects.filter(
        enrollments__school_class__in=classes,
        enrollments__role=Enrollment.Role.STUDENT,
    )
    return User.objects.filter(
        Q(pk__in=pupils.values("pk"))
        | Q(
            pk__in=GuardianLink.objects.filter(student__in=pupils).values("guardian_id")
        )
    )


def live_codes(user: User, now: dt.datetime | None = None) -> QuerySet[ActivationCode]:
    """Return the codes of ``user`` that may still be used."""
    return ActivationCode.objects.filter(
        user=user,
        used_at=None,
        revoked_at=None,
        expires_at__gt=now or timezone.now(),
    )


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
        days = getattr(settings, "ACCOUNTS_LETTER_CODE_DAYS", LETTER_DAYS)
    else:
        days = getattr(settings, "ACCOUNTS_EMAIL_CODE_DAYS", EMAIL_DAYS)
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
        spent = ActivationCode.objects.filter(
            pk=activation.pk, used_at=None, revoked_at=None, expires_at__gt=now
        ).update(used_at=now)
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
    *, users: QuerySet[User], issued_by: User | None = None
) -> tuple[bytes, int]:
    """Issue a letter code to each user of ``users`` not yet activated and
    return ``(pdf, pages)``: one page per guardian and per pupil, a family's
    pages together.

    Issuing revokes the codes of earlier letters and e-mails of those users.
    """
    pending = {u.pk: u for u in not_activated(users).order_by("pk")}
    if not pending:
        return b"", 0
    letters = []
    with transaction.atomic():
        for user in _family_order(pending):
            row, plain = issue_code(
                user=user, channel=ActivationCode.Channel.LETTER, issued_by=issued_by
            )
            letters.append(_letter(user, plain, row.expires_at))
    return render_letters(letters), len(letters)


@dataclass
class SendReport:
    """What :func:`send_activation_emails` did, by username."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # no address, or activated


def send_activation_emails(
    *, users: QuerySet[User], issued_by: User | None = None
) -> SendReport:
    """E-mail an activation link and code to each user of ``users`` with an
    address and not yet activated, over one SMTP connection.

    A mail the server refuses gets its code revoked (nobody can use it).
    """
    report = SendReport()
    pending = set(not_activated(users).exclude(email="").values_list("pk", flat=True))
    for user in users.order_by("username"):
        if user.pk not in pending:
            report.skipped.append(user.username)
    targets = list(User.objects.filter(pk__in=pending).order_by("username"))
    if not targets:
        return report
    with mail.connection() as connection:
        for user in targets:
            row, plain = issue_code(
                user=user, channel=ActivationCode.Channel.EMAIL, issued_by=issued_by
            )
            message = mail.activation_message(
                user=user,
                code=plain,
                link=activation_link(user, plain),
                expires_at=row.expires_at,
                school=", ".join(o.name for o in _orgs_of(user)),
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


def _pupil_classes(pupil: User) -> list[SchoolClass]:
    return list(
        SchoolClass.objects.filter(
            enrollments__user=pupil, enrollments__role=Enrollment.Role.STUDENT
        )
        .select_related("org")
        .order_by("class_type", "title")
        .distinct()
    )


def _children(guardian: User) -> list[User]:
    return list(
        User.objects.filter(guardians=guardian).order_by("first_name", "last_name")
    )


def _orgs_of(user: User) -> list[Org]:
    pupils = _children(user) if user.role == User.Role.GUARDIAN else [user]
    orgs = {}
    for pupil in pupils:
        for school_class in _pupil_classes(pupil):
            orgs.setdefault(school_class.org_id, school_class.org)
    for org in user.orgs.all():
        orgs.setdefault(org.pk, org)
    return list(orgs.values())


def _pupil(pupil: User) -> Pupil:
    classes = _pupil_classes(pupil)
    return Pupil(
        name=pupil.get_full_name() or pupil.username,
        classes=[f"{c.title} ({c.org.name})" for c in classes],
    )


def _letter(user: User, code: str, expires_at: dt.datetime) -> Letter:
    if user.role == User.Role.GUARDIAN:
        children = [_pupil(child) for child in _children(user)]
    elif user.role == User.Role.STUDENT:
        children = [_pupil(user)]
    else:
        children = []
    return Letter(
        school=", ".join(o.name for o in _orgs_of(user)) or "Hub ENT",
        name=user.get_full_name() or user.username,
        role=user.role,
        login=user.get_username(),
        code=code,
        expires_on=timezone.localtime(expires_at).date(),
        site=settings.SITE_URL,
        path=reverse("accounts:activate"),
        link=activation_link(user, code),
        children=children,
    )


def _family_order(pending: dict[int, User]) -> list[User]:
    """Order users family by family: a pupil's guardians, then the pupil.

    Pupils go by class and name; a guardian of several comes with the first.
    """
    pupils = sorted(
        (u for u in pending.values() if u.role == User.Role.STUDENT),
        key=lambda u: (
            min((c.title for c in _pupil_classes(u)), default=""),
            u.last_name,
            u.first_name,
            u.pk,
        ),
    )
    done: set[int] = set()
    ordered: list[User] = []
    pupil_ids = [p.pk for p in pupils]
    # Also pupils not pending: their pending guardians come in their place.
    family_pupils = pupil_ids + [
        link.student_id
        for link in GuardianLink.objects.filter(guardian_id__in=pending).order_by(
            "student__last_name", "student__first_name"
        )
    ]
    for pupil_id in family_pupils:
        for guardian_id in GuardianLink.objects.filter(student_id=pupil_id).values_list(
            "guardian_id", flat=True
        ):
            if guardian_id in pending and guardian_id not in done:
                done.add(guardian_id)
                ordered.append(pending[guardian_id])
        if pupil_id in pending and pupil_id not in done:
            done.add(pupil_id)
            ordered.append(pending[pupil_id])
    for user in pending.values():  # staff, or guardians with no child
        if user.pk not in done:
            ordered.append(user)
    return ordered
