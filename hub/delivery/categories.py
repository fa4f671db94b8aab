"""Delivery categories: what users choose about, with per-role defaults.

An event kind names its category (``HubEvent.category``); a kind added later
either picks one of these or adds a line here. Each category carries its web
push TTL in seconds (RFC 8030 §5.2, never 0: a phone that is off for a minute
still gets an absence alert) and Urgency (RFC 8030 §5.3). ``email_fallback``
marks the categories that must reach someone who chose push but has no
device subscribed: they go by e-mail right away instead (absences: the
hub's core promise to families).
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from hub.delivery.models import Digest

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise  # gettext_lazy's type

HOUR = 3600


@dataclass(frozen=True)
class Choice:
    """A preference as stored: in-app, push, e-mail now, digest ("", daily, weekly)."""

    inapp: bool = True
    push: bool = False
    email: bool = False
    digest: str = Digest.NONE


IN_APP = Choice()
PUSH = Choice(push=True)
DAILY = Choice(digest=Digest.DAILY)
PUSH_AND_DAILY = Choice(push=True, digest=Digest.DAILY)
OFF = Choice(inapp=False)


@dataclass(frozen=True)
class Category:
    key: str
    label: "str | StrPromise"
    help: "str | StrPromise"
    ttl: int
    urgency: str
    defaults: dict[str, Choice] = field(default_factory=dict)
    email_fallback: bool = False

    def default_for(self, role: str) -> Choice:
        """Return the default choice for a OneRoster role (in-app if unlisted)."""
        return self.defaults.get(role, IN_APP)


CATEGORIES: dict[str, Category] = {
    c.key: c
    for c in [
        Category(
            "absence",
            _("Absences and lateness"),
            _("A child marked absent or late, corrections."),
            ttl=24 * HOUR,
            urgency="high",
            defaults={"guardian": PUSH, "student": IN_APP},
            email_fallback=True,
        ),
        Category(
            "excuse",
            _("Excuses"),
            _("Excuses submitted, accepted or refused."),
            ttl=24 * HOUR,
            urgency="normal",
            defaults={"guardian": PUSH_AND_DAILY},
        ),
        Category(
            "message",
            _("Messages"),
            _("New messages in your conversations."),
            ttl=1 * HOUR,
            urgency="normal",
            defaults={
                "guardian": PUSH,
                "teacher": PUSH,
                "student": PUSH,
                "administrator": PUSH,
            },
        ),
        Category(
            "timetable",
            _("Timetable changes"),
            _("Cancelled or moved lessons, room and teacher changes."),
            ttl=12 * HOUR,
            urgency="normal",
            defaults={"student": PUSH, "guardian": DAILY, "teacher": PUSH},
        ),
        Category(
            "roll_call",
            _("Roll calls to take"),
            _("A lesson whose roll call is still missing."),
            ttl=1 * HOUR,
            urgency="high",
            defaults={"teacher": PUSH},
        ),
        Category(
            "grades",
            _("Grades"),
            _("New grades and report cards."),
            ttl=24 * HOUR,
            urgency="low",
            defaults={"guardian": DAILY, "student": PUSH},
        ),
        Category(
            "homework",
            _("Homework"),
            _("The homework notebook."),
            ttl=24 * HOUR,
            urgency="low",
            # Staff read every class of their school: off unless they ask.
            defaults={"guardian": DAILY, "student": PUSH, "administrator": OFF},
        ),
        Category(
            "documents",
            _("Course documents"),
            _("New documents and new versions in your classes."),
            ttl=24 * HOUR,
            urgency="low",
            defaults={
                "guardian": DAILY,
                "student": IN_APP,
                "teacher": IN_APP,
                "administrator": OFF,
            },
        ),
        Category(
            "agenda",
            _("Agenda and meetings"),
            _("School events for you, parent–teacher meeting bookings and reminders."),
            ttl=24 * HOUR,
            urgency="normal",
            defaults={
                "guardian": DAILY,
                "student": IN_APP,
                "teacher": IN_APP,
                "administrator": IN_APP,
            },
        ),
        Category(
            "announcement",
            _("Announcements"),
            _("News from the school; urgent ones always get through."),
            ttl=24 * HOUR,
            urgency="normal",
            defaults={
                "guardian": PUSH_AND_DAILY,
                "student": PUSH,
                "teacher": PUSH_AND_DAILY,
                "administrator": IN_APP,
            },
        ),
    ]
}

# What the settings page offers: few choices, each a stored combination.
CHOICES: dict[str, tuple[Choice, "str | StrPromise"]] = {
    "push": (PUSH, _("Notification right away")),
    "push_daily": (PUSH_AND_DAILY, _("Notification + evening digest")),
    "email": (Choice(email=True), _("E-mail right away")),
    "daily": (DAILY, _("Evening digest e-mail")),
    "weekly": (Choice(digest=Digest.WEEKLY), _("Weekly digest e-mail (Friday)")),
    "inapp": (IN_APP, _("Only in the app")),
    "off": (Choice(inapp=False), _("Off")),
}


def choice_key(choice: Choice) -> str:
    """Return the key in :data:`CHOICES` of a stored combination ("custom" if none)."""
    for key, (known, _label) in CHOICES.items():
        if known == choice:
            return key
    return "custom"


def email_fallbacks() -> list[Category]:
    """Return the categories sent by e-mail when push finds no device."""
    return [spec for spec in CATEGORIES.values() if spec.email_fallback]


def category(key: str) -> Category:
    """Return the category ``key``; raise ``KeyError`` for an unknown one."""
    return CATEGORIES[key]
