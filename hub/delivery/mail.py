"""Composing notification e-mails: one item right away, or a daily/weekly digest.

Plain data in, an :class:`email.message.EmailMessage` out: no ORM query, no
sending (that is :mod:`hub.delivery.smtp`). The same two templates,
``delivery/email/digest.txt`` and ``delivery/email/digest.html``, render the
immediate mail (one item) and the digests, in French.

- Headers follow RFC 5322 and are 7-bit: accents and emoji in the ``To``
  name and the ``Subject`` become RFC 2047 encoded-words (``email.header``),
  folded at 78 columns, once, when the mail is composed (the message's
  policy is :data:`MAIL_POLICY`). Every user-provided string that
  reaches a header has its control characters (CR, LF, TAB, NUL, DEL, C1,
  U+2028/9) replaced by spaces first, so nobody can inject a header
  (``Bcc: …``) through a name or a title.
- ``List-Unsubscribe`` + ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
  (RFC 8058 one-click unsubscribe), ``Auto-Submitted: auto-generated``
  (RFC 3834 §5, so vacation responders stay quiet), ``Content-Language: fr``.
- The HTML part's ``<style>`` is inlined into ``style=""`` attributes once, when
  the template is first loaded (``css_inline``); rendering a mail then costs no
  CSS work at all.
- Unsubscribe links carry a signed token (:func:`unsubscribe_token`).
"""

import binascii
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid

import css_inline
from django.conf import settings
from django.core import signing
from django.template import engines
from django.template.loader import get_template

from hub.delivery.categories import CATEGORIES

HTML_TEMPLATE = "delivery/email/digest.html"
TEXT_TEMPLATE = "delivery/email/digest.txt"
GENERAL = "Général"  # the section of items that are about no child
UNSUBSCRIBE_SALT = "delivery.unsubscribe"
UNSUBSCRIBE_ALL = "all"

_WEEKDAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
# C0 controls (CR, LF, TAB, NUL…), DEL, C1 controls, line/paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BLANK_LINES = re.compile(r"\n{3,}")
_DJANGO_COMMENT = re.compile(r"\{% comment %\}.*?\{% endcomment %\}", re.S)
_MSG_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_UTF8 = 'charset="utf-8"'
# A constant boundary is safe: "=_" never occurs in quoted-printable text,
# where every "=" is written "=3D" (RFC 2045 §6.7, RFC 2046 §5.1.1).
# email.policy.SMTP, except that headers composed here (stored folded, with
# set_raw) are written as they are: SMTP alone would refold a line longer than
# 78 columns, and turn a long List-Unsubscribe URL into RFC 2047
# encoded-words that no mail provider decodes there (RFC 2369 §2).
MAIL_POLICY = SMTP.clone(refold_source="none")
_BOUNDARY = "=_hub-alternative"
_MULTIPART = f'multipart/alternative; boundary="{_BOUNDARY}"'


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


def clean_header_text(value: str) -> str:
    """Return ``value`` with every control character replaced by a space.

    CR and LF above all: a header value with a line break would start a new
    header (RFC 5322 §2.2). Leading and trailing spaces are stripped.
    """
    return _CONTROL.sub(" ", value).strip()


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
    return f"<hub.{int(user_id)}.{left}@{_from_address().domain}>"


def _escape_id_char(match: re.Match) -> str:
    if match.group() == ":":
        return "."
    return "".join(f"={byte:02X}" for byte in match.group().encode())


def unsubscribe_token(user_id: int, scope: str) -> str:
    """Return a signed, URL-safe token for "unsubscribe ``user_id`` from ``scope``".

    ``scope`` is a category key (:data:`~hub.delivery.categories.CATEGORIES`)
    or ``"all"``; anything else raises ``ValueError``. The token is signed with
    ``SECRET_KEY`` (:mod:`django.core.signing`, salt ``delivery.unsubscribe``)
    and does not expire: RFC 8058 links must keep working in old mails.
    """
    if scope != UNSUBSCRIBE_ALL and scope not in CATEGORIES:
        raise ValueError(f"unknown unsubscribe scope {scope!r}")
    return signing.dumps([int(user_id), scope], salt=UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """Return ``(user_id, scope)`` from a token of :func:`unsubscribe_token`.

    Raises :class:`django.core.signing.BadSignature` when the token was
    tampered with, signed with another key or salt, or has the wrong shape.
    The scope may name a category removed since: the caller decides.
    """
    value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    match value:
        case [int() as user_id, str() as scope] if not isinstance(user_id, bool):
            return user_id, scope
    raise signing.BadSignature("unsubscribe token of the wrong shape")


def compose(
    *,
    to_name: str,
    to_address: str,
    subject: str,
    intro: str,
    items: list[DigestItem],
    unsubscribe_url: str,
    settings_url: str,
    message_id: str | None = None,
) -> EmailMessage:
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
    spaces. Raises ``ValueError`` for an invalid address or message id, a
    naive ``when``, a non-http(s) item URL or an unsubscribe URL over 900
    characters. Serialise the result with ``message.as_bytes()`` (CRLF, 7-bit
    headers and quoted-printable bodies; :data:`MAIL_POLICY`), not with
    ``policy=email.policy.SMTP`` nor ``aiosmtplib.send(message)``: they
    would mangle a ``List-Unsubscribe`` line longer than 78 columns.
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

    # Headers are encoded here, once, and stored as they are (set_raw): the
    # email package's header registry would parse them, then refold them on
    # every as_bytes(), character by character (~0.5 ms a mail).
    message = _ComposedMessage(policy=MAIL_POLICY)
    message.set_raw("From", _from_header(settings.DEFAULT_FROM_EMAIL))
    message.set_raw("To", _to_header(to_name, clean_header_text(to_address)))
    message.set_raw("Subject", _encode_text(subject, "Subject"))
    message.set_raw("Date", format_datetime(datetime.now(UTC)))
    message.set_raw("Message-ID", _message_id(message_id))
    if unsubscribe_url.isascii():
        message.set_raw("List-Unsubscribe", f"<{unsubscribe_url}>")
    else:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    message.set_raw("Auto-Submitted", "auto-generated")
    message.set_raw("Content-Language", "fr")
    message.set_raw("MIME-Version", "1.0")
    message["Content-Type"] = _fixed_header("Content-Type", _MULTIPART)
    message.set_payload([_text_part("plain", text + "\n"), _text_part("html", html)])
    return message


def _text_part(subtype: str, text: str) -> MIMEPart:
    """A UTF-8 quoted-printable text part (``binascii``'s C encoder: the
    ``email`` package's own one is pure Python and ten times slower)."""
    part = MIMEPart(policy=MAIL_POLICY)
    part["Content-Type"] = _fixed_header("Content-Type", f"text/{subtype}; {_UTF8}")
    part["Content-Transfer-Encoding"] = _fixed_header(
        "Content-Transfer-Encoding", "quoted-printable"
    )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    part.set_payload(binascii.b2a_qp(text.encode(), istext=True).decode("ascii"))
    return part


def _encode_text(text: str, header_name: str) -> str:
    """Return ``text`` as a folded header value (RFC 5322 §2.2.3), in RFC 2047
    encoded-words of at most 75 characters if it is not plain ASCII (or
    contains something that would read as an encoded-word)."""
    charset = None if text.isascii() and "=?" not in text else "utf-8"
    return Header(text, charset, header_name=header_name).encode(linesep="\r\n")


def _to_header(name: str, address: str) -> str:
    """Return ``name <address>`` for ``To`` (RFC 5322 §3.4): a quoted-string
    or encoded-words (RFC 2047 §5) name. ``ValueError`` for an invalid or
    non-ASCII address (that would need SMTPUTF8, RFC 6531)."""
    try:
        address = Address(addr_spec=address).addr_spec  # validates
    except (HeaderParseError, IndexError) as exc:  # IndexError: ""
        raise ValueError(f"invalid address {address!r}: {exc}") from exc
    if not address.isascii():
        raise ValueError(f"non-ASCII address {address!r}")
    if not name:
        return address
    if name.isascii() and "=?" not in name:
        # A phrase or a quoted-string: both may fold at their spaces.
        words = _wrap(formataddr((name, address)).rpartition(" <")[0], 4)
    else:
        words = _encode_text(name, "To")
    last_line = words.rsplit("\r\n", 1)[-1]
    fold = " " if len(last_line) + len(address) + 3 <= 78 else "\r\n "
    return f"{words}{fold}<{address}>"


def _wrap(text: str, indent: int, width: int = 78) -> str:
    """Fold ``text`` at single spaces so that its lines fit in ``width``
    columns (the first one starts at column ``indent``). Unfolding gives
    ``text`` back (RFC 5322 §2.2.3); no line is only white space."""
    lines, line, limit = [], "", width - indent
    for index, word in enumerate(text.split(" ")):
        if index == 0:
            line = word
        elif word and line.strip() and len(line) + 1 + len(word) > limit:
            lines.append(line)
            line, limit = " " + word, width
        else:
            line += " " + word
    return "\r\n".join([*lines, line])


@functools.cache
def _from_header(value: str) -> str:
    """``DEFAULT_FROM_EMAIL`` parsed, encoded and folded once."""
    folded = _fixed_header("From", value).fold(policy=MAIL_POLICY)
    return folded.removeprefix("From: ").removesuffix("\r\n")


@functools.cache
def _fixed_header(name: str, value: str):
    """A parsed header object, reusable in every message (they are immutable).

    Its folded form is remembered too: folding is the slow part of writing
    a message out (see :class:`_ComposedMessage`).
    """
    message = EmailMessage(policy=MAIL_POLICY)
    message[name] = value
    header = message[name]
    _FIXED_FOLDS[id(header)] = (header, MAIL_POLICY.fold_binary(name, header))
    return header


_FIXED_FOLDS: dict[int, tuple[object, bytes]] = {}


class _ComposedMessage(EmailMessage):
    """What :func:`compose` returns: an ordinary ``EmailMessage`` that writes
    itself out without the ``email`` generator when it still has the shape
    ``compose`` gave it (same bytes, about ten times faster: the generator
    writes a body line by line and refolds every header). Anything else, or
    another policy, goes the standard way.
    """

    def as_bytes(self, unixfrom: bool = False, policy=None) -> bytes:
        if not unixfrom and (policy or self.policy) is MAIL_POLICY:
            fast = self._smtp_bytes()
            if fast is not None:
                return fast
        return super().as_bytes(unixfrom, policy)

    def _smtp_bytes(self) -> bytes | None:
        parts = self.get_payload()
        if not isinstance(parts, list) or not parts:
            return None
        if self.preamble is not None or self.epilogue is not None:
            return None
        if self.get_boundary() != _BOUNDARY:
            return None
        chunks = [_header_block(self)]
        for index, part in enumerate(parts):
            payload = part.get_payload()
            if not isinstance(payload, str) or "\r" in payload:
                return None
            if not payload.isascii():
                return None
            chunks.append(b"--" if index == 0 else b"\r\n--")
            chunks.append(_BOUNDARY.encode() + b"\r\n")
            chunks.append(_header_block(part))
            chunks.append(payload.replace("\n", "\r\n").encode("ascii"))
        chunks.append(b"\r\n--" + _BOUNDARY.encode() + b"--\r\n")
        return b"".join(chunks)


def _header_block(message: EmailMessage) -> bytes:
    """The header lines and the empty line after them, as the generator
    writes them (``policy.fold_binary`` of each stored header)."""
    lines = []
    for name, value in message.raw_items():
        fixed = _FIXED_FOLDS.get(id(value))
        if fixed is not None and fixed[0] is value:
            lines.append(fixed[1])
        else:
            lines.append(MAIL_POLICY.fold_binary(name, value))
    lines.append(b"\r\n")
    return b"".join(lines)


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


def _message_id(message_id: str | None) -> str:
    if message_id is None:
        return make_msgid(domain=_from_address().domain)
    message_id = clean_header_text(message_id)
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    if not _MSG_ID.fullmatch(message_id):
        raise ValueError(f"invalid Message-ID {message_id!r}")
    return message_id


def _from_address() -> Address:
    """``DEFAULT_FROM_EMAIL`` as an address (parsed once)."""
    return _fixed_header("From", settings.DEFAULT_FROM_EMAIL).addresses[0]


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
