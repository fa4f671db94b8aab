"""Composing notification e-mails: one item right away, or a daily/weekly digest.

Plain data in, a Django :class:`~django.core.mail.EmailMultiAlternatives`
(plain text with an HTML alternative) out: no ORM query, no sending (that
is :mod:`hub.delivery.transports.email`). The same two templates,
``delivery/email/digest.txt`` and ``delivery/email/digest.html``, render the
immediate mail (one item) and the digests, in French.

- Headers follow RFC 5322 and are 7-bit, written by
  :mod:`hub.delivery.email_format` (RFC 2047 names and subjects, control
  characters of user-provided text replaced, so no header injection).
- ``List-Unsubscribe`` + ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
  (RFC 8058 one-click unsubscribe, :mod:`hub.delivery.unsubscribe_tokens`),
  ``Auto-Submitted: auto-generated`` (RFC 3834 §5, so vacation responders
  stay quiet), ``Content-Language: fr``.
- The HTML part's ``<style>`` is inlined into ``style=""`` attributes once, when
  the template is first loaded (``css_inline``); rendering a mail then costs no
  CSS work at all.
"""

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from typing import Any

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import engines
from django.template.loader import get_template

from hub.delivery import email_format
from hub.delivery.email_format import clean_header_text

HTML_TEMPLATE = "delivery/email/digest.html"
TEXT_TEMPLATE = "delivery/email/digest.txt"
GENERAL = "Général"  # the section of items that are about no child

_WEEKDAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
_BLANK_LINES = re.compile(r"\n{3,}")
_DJANGO_COMMENT = re.compile(r"\{% comment %\}.*?\{% endcomment %\}", re.S)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(slots=True)
class DigestItem:
    """One notification as a mail shows it.

    ``url`` is absolute (``https://…``); ``when`` is an aware datetime already
    in the recipient's time zone (it is formatted as is, never converted);
    ``child_name`` is "" when the item is about no child (section "Général").
    """

    title: str
    body: str
    url: str
    when: datetime
    category_label: str
    child_name: str = ""


def format_when(when: datetime) -> str:
    """Format an aware datetime as French short text: ``"lun. 30/11 08:05"``.

    The datetime is shown in its own time zone (the caller converts it to the
    recipient's); a naive datetime raises ``ValueError``.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("DigestItem.when must be an aware datetime")
    return f"{_WEEKDAYS[when.weekday()]} {when:%d/%m %H:%M}"


def make_message_id(user_id: int, period: str) -> str:
    """Return a deterministic RFC 5322 §3.6.4 ``Message-ID`` for a user and period.

    ``period`` is the ledger's (``now:<id>``, ``daily:2026-11-30``,
    ``weekly:2026-W48``): the same user and period always give the same id, so
    a mail sent twice would be recognisable. The domain is the one of
    ``DEFAULT_FROM_EMAIL``. Shape: ``<hub.42.daily.2026-11-30@example.org>``.
    """
    left = _ID_UNSAFE.sub(_escape_id_char, period)
    if not left or left.startswith(".") or left.endswith(".") or ".." in left:
        left = left.replace(".", "=3A")  # keep it a valid dot-atom
    return f"<hub.{int(user_id)}.{left}@{email_format.from_address().domain}>"


def _escape_id_char(match: re.Match) -> str:
    if match.group() == ":":
        return "."
    return "".join(f"={byte:02X}" for byte in match.group().encode())


class NotificationEmail(EmailMultiAlternatives):
    """Django's text + HTML e-mail, written out the way the hub's mails must be.

    Composed with the standard API (``subject``, ``body``, ``from_email``,
    ``to``, ``headers``, :meth:`attach_alternative`), so it can also go
    through any Django mail backend. :meth:`message` is the one thing done
    differently from Django's: the stock one writes a UTF-8 body as 8-bit
    (the hub's mails are 7-bit, quoted-printable), keeps the ``compat32``
    policy (LF line ends, headers refolded on every write) and folds an
    encoded ``To`` name at 76 columns with bare LFs; it also goes through
    the ``email`` generator, about ten times slower than
    :class:`~hub.delivery.email_format.ComposedMessage` for the same bytes.

    ``to_name``: the recipient's display name (``to`` holds the bare
    address, as Django's ``recipients()`` gives it to SMTP). Only text
    alternatives, no attachments.
    """

    def __init__(self, *, to_name: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.to_name = to_name

    def message(self, *, policy: Policy | None = None) -> EmailMessage:
        """The mail as an :class:`email.message.EmailMessage`: headers
        encoded here, once, and stored as they are (``set_raw``): the
        ``email`` package's header registry would parse them, then refold
        them on every ``as_bytes()``, character by character (~0.5 ms a
        mail). ``policy``: another one than
        :data:`~hub.delivery.email_format.MAIL_POLICY` writes through the
        ``email`` generator. Raises ``ValueError`` for an address SMTP
        cannot carry."""
        if self.attachments or len(self.to) != 1 or self.cc or self.bcc:
            raise ValueError("a notification mail has one recipient, no attachment")
        message = email_format.ComposedMessage(
            policy=policy or email_format.MAIL_POLICY
        )
        message.set_raw("From", email_format.from_header(self.from_email))
        to = email_format.to_header(self.to_name, self.to[0])
        message.set_raw("To", to)
        message.set_raw(
            "Subject", email_format.encode_text(str(self.subject), "Subject")
        )
        message.set_raw("Date", format_datetime(datetime.now(UTC)))
        for name, value in self.extra_headers.items():
            if value.isascii():
                message.set_raw(name, value)
            else:
                message[name] = value
        message.set_raw("MIME-Version", "1.0")
        content_type = email_format.fixed_header("Content-Type", email_format.MULTIPART)
        message["Content-Type"] = content_type
        parts: list = [email_format.text_part("plain", str(self.body))]
        for content, mimetype in self.alternatives:
            kind, _, subtype = str(mimetype).partition("/")
            if kind != "text" or not isinstance(content, str):
                raise ValueError(f"unsupported alternative {mimetype!r}")
            parts.append(email_format.text_part(subtype, content))
        message.set_payload(parts)
        return message


def notification_email(
    *,
    to_name: str,
    to_address: str,
    subject: str,
    intro: str,
    items: list[DigestItem],
    unsubscribe_url: str,
    settings_url: str,
    message_id: str | None = None,
) -> NotificationEmail:
    """Return a French ``multipart/alternative`` mail (plain text, then HTML).

    ``items`` are grouped by ``child_name`` (a section per child, in
    alphabetical order, then "Général" for items about no child; the headings
    are left out when the only section is "Général"), each section in
    chronological order. ``unsubscribe_url`` (an ``https://…/unsubscribe/
    <token>/`` URL that accepts the RFC 8058 one-click POST) and
    ``settings_url`` go to the footer and to ``List-Unsubscribe``.
    ``message_id`` (``<left@right>``, brackets optional) makes the
    ``Message-ID`` deterministic (see :func:`make_message_id`); without it a
    random one is made.

    Control characters in ``to_name``, ``to_address`` and ``subject`` become
    spaces. Raises ``ValueError`` for an invalid message id, a naive
    ``when``, a non-http(s) item URL or an unsubscribe URL over 900
    characters (an invalid address: when the message is written, see
    :meth:`NotificationEmail.message`).
    """
    to_name = clean_header_text(to_name)
    subject = clean_header_text(subject)
    unsubscribe_url = clean_header_text(unsubscribe_url)
    if len(unsubscribe_url) > 900:  # a header line is at most 998 (RFC 5322)
        raise ValueError("unsubscribe URL too long")
    context = {
        "to_name": to_name,
        "subject": subject,
        "intro": intro,
        "unsubscribe_url": unsubscribe_url,
        "settings_url": settings_url,
        **_sections(items),
    }
    text = _BLANK_LINES.sub("\n\n", _text_template().render(context)).strip()
    html = _html_template().render(context)
    mail = NotificationEmail(
        subject=subject,
        body=text + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[clean_header_text(to_address)],
        to_name=to_name,
        headers={
            "Message-ID": email_format.message_id_header(message_id),
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "Content-Language": "fr",
        },
    )
    mail.attach_alternative(html, "text/html")
    return mail


def compose(**fields: Any) -> EmailMessage:
    """The message of :func:`notification_email` (same arguments), ready for
    the e-mail transport. Serialise it with ``message.as_bytes()`` (CRLF,
    7-bit headers and quoted-printable bodies;
    :data:`~hub.delivery.email_format.MAIL_POLICY`), not with
    ``policy=email.policy.SMTP`` nor ``aiosmtplib.send(message)``: they
    would mangle a ``List-Unsubscribe`` line longer than 78 columns."""
    return notification_email(**fields).message()


def _sections(items: list[DigestItem]) -> dict:
    by_child: dict[str, list[dict]] = {}
    for item in items:
        if not item.url.startswith(("https://", "http://")):
            raise ValueError(f"DigestItem.url must be absolute http(s): {item.url!r}")
        by_child.setdefault(item.child_name.strip(), []).append(
            {
                "title": item.title,
                "body": item.body,
                "body_text": item.body.strip().replace("\n", "\n  "),
                "url": item.url,
                "when": item.when,
                "when_text": format_when(item.when),
                "category_label": item.category_label,
            }
        )
    names = sorted((name for name in by_child if name), key=str.casefold)
    if "" in by_child:
        names.append("")
    groups: list[dict] = [
        {
            "name": name or GENERAL,
            "items": sorted(by_child[name], key=lambda entry: entry["when"]),
        }
        for name in names
    ]
    return {"groups": groups, "show_sections": names != [""]}


@functools.cache
def _text_template():
    return get_template(TEXT_TEMPLATE)


@functools.cache
def _html_template():
    """The HTML template with its ``<style>`` inlined, compiled once.

    Inlining the template's source rather than each rendered mail works
    because Django tags sit where the HTML parser keeps text (see the
    template's comment); the rendered output still has every style inline.
    """
    # The Django backend's wrapper; .template is its compiled Template.
    source = get_template(HTML_TEMPLATE).template.source  # type: ignore[attr-defined]
    source = _DJANGO_COMMENT.sub("", source)
    inliner = css_inline.CSSInliner(
        keep_style_tags=False, load_remote_stylesheets=False
    )
    return engines["django"].from_string(inliner.inline(source))
