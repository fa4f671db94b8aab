"""Messaging pages and JSON endpoints.

Each view parses, checks access (``core.messaging.access``: "not found" and
"not allowed" are the same 404), calls one action, responds. Message text is
decrypted here and shown only through ``render.render_message`` (sanitised
HTML); everything else goes through the templates' autoescape.

JSON endpoints answer errors as ``{"error": code, "message": text}``, where
``code`` is the ``MessagingError`` code (``too_long``, ``rate_limited``, ...)
or ``not_found`` / ``invalid``; a rate limit is a 429 with ``Retry-After``.
"""

import datetime as dt
import json
import logging

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core import crypto, files
from core.audit import log as audit
from core.audit.ip import client_ip
from core.errors import json_error
from core.messaging import access, actions, policy
from core.messaging.actions import ERROR_STATUS
from core.messaging.forms import (
    EditForm,
    MessageForm,
    ModerationForm,
    NewConversationForm,
    ReportForm,
    new_key,
)
from core.messaging.models import Conversation, Message
from core.messaging.policy import may_send_silently
from core.messaging.render import render_message
from core.messaging.thread import (
    PAGE_SIZE,
    Thread,
    conversation_row,
    decrypt_text,
    display_name,
    inbox_queryset,
    load_thread,
    message_item,
    visible_people,
)
from core.roster.access import orgs_of
from core.roster.models import User
from hub.delivery.access import active_mute, conversation_key

log = logging.getLogger(__name__)

INBOX_LIMIT = 200
SUSPENSION = dt.timedelta(days=7)
MAX_ID = 10**18 - 1


# Helpers -------------------------------------------------------------------


def wants_json(request) -> bool:
    """Whether the client is the page's script (it asks for JSON)."""
    return "application/json" in request.headers.get("Accept", "")


def error_response(error: actions.MessagingError) -> JsonResponse:
    """The JSON answer to a refusal of the rules, with ``Retry-After`` if rate limited."""
    extra = {}
    if isinstance(error, actions.RateLimited):
        extra["retry_after"] = error.retry_after
    response = json_error(
        error.code, ERROR_STATUS.get(error.code, 400), str(error), **extra
    )
    if isinstance(error, actions.RateLimited):
        response["Retry-After"] = str(error.retry_after)
    return response


def parse_id(value) -> int | None:
    """Return ``value`` as an id (1 to 10^18 - 1), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value or "").strip()
        if not text.isdecimal() or len(text) > 18:
            return None
        number = int(text)
    return number if 0 < number <= MAX_ID else None


def message_json(request, message: Message, thread: Thread) -> dict:
    """The JSON of one message: metadata and its ``<li>`` as the page draws it."""
    item = message_item(message, thread)
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "sender_id": message.sender_id,
        "sender_name": item["sender_name"],
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "state": item["state"],
        "mine": item["mine"],
        "html": render_to_string(
            "messaging/_message.html",
            {"m": item, "conversation": thread.conversation},
            request=request,
        ),
    }


def reply_state(thread: Thread, to: int | None = None) -> dict:
    """Whether ``user`` may reply here, and what to tell them.

    Returns ``{"allowed": bool, "reason": str, "note": str}``; the action
    checks again on every send. For the creator of a class-wide
    conversation, ``threads`` lists the recipients whose private thread
    they may answer (``to`` preselects one), each with its note.
    """
    conversation, user = thread.conversation, thread.user
    if policy.is_suspended(user, conversation.org_id):
        return {
            "allowed": False,
            "reason": _("Your right to write in this school is suspended."),
        }
    if thread.is_creator:
        if not thread.class_wide:
            return {"allowed": True}
        threads = sorted(
            (
                {
                    "id": p.user_id,
                    "name": display_name(p.user),
                    "note": _("Reply visible only to %(name)s")
                    % {"name": display_name(p.user)},
                }
                for p in thread.participants
                if p.user_id != user.pk
            ),
            key=lambda item: str(item["name"]).casefold(),
        )
        selected = next((t for t in threads if t["id"] == to), None)
        everyone = _("Message visible to every recipient")
        return {
            "allowed": True,
            "threads": threads,
            "selected": selected["id"] if selected else None,
            "everyone_note": everyone,
            "note": selected["note"] if selected else everyone,
        }
    creator = conversation.created_by
    if not policy.may_reply(conversation, user.pk):
        return {
            "allowed": False,
            "reason": _("Replies are not open in this conversation."),
        }
    if conversation.reply_policy == Conversation.ReplyPolicy.SENDER:
        note = (
            _("Your reply is visible only to the teacher, %(name)s.")
            if creator.role == User.Role.TEACHER
            else _("Your reply is visible only to %(name)s.")
        )
        return {"allowed": True, "note": note % {"name": display_name(creator)}}
    # Replies to everyone: the action decides per recipient on each send
    # (and says whom the sender may not reach).
    return {"allowed": True}


def clean_query(raw: str | None) -> str:
    return " ".join((raw or "").split())[:100]


def words() -> dict:
    """The strings the page's script writes, in the page's language."""
    return {
        "read_by": _("Read by %(read)s of %(total)s"),
        "typing_one": _("%(name)s is typing…"),
        "typing_many": _("%(names)s are typing…"),
        "new_message": _("New message from %(name)s"),
        "sending": _("Sending…"),
        "sent": _("Message sent."),
        "offline": _(
            "The message could not be sent: connection lost. "
            "Your draft is kept; send it again."
        ),
        "error": _("The message could not be sent. Your draft is kept."),
        "conflict": _(
            "Your previous message had already been sent; this text will go "
            "as a new message."
        ),
        "too_many_files": _("5 files at most per message."),
        "confirm_delete": _("Delete this message for everyone?"),
        "saved": _("Changes saved."),
        "deleted": _("Message deleted."),
        "reported": _("Thank you: the school will look at this message."),
        "failed": _("That did not work. Try again."),
    }


def back_to(conversation: Conversation, message_id: int | None = None):
    url = reverse("messaging:conversation", args=[conversation.pk])
    return redirect(f"{url}#message-{message_id}" if message_id else url)


# Pages ---------------------------------------------------------------------


@require_GET
@login_required
def inbox(request):
    """The user's conversations, latest first, searchable (``?q=``)."""
    query = clean_query(request.GET.get("q"))
    rows = [
        conversation_row(c, request.user)
        for c in inbox_queryset(request.user, query)[:INBOX_LIMIT]
    ]
    context: dict[str, object] = {"rows": rows, "query": query}
    if request.user.role == User.Role.ADMINISTRATOR:
        context["reports"] = access.moderation_queue(request.user).count()
    return render(request, "messaging/inbox.html", context)


@login_required
def conversation(request, conversation_id: int):
    """One conversation (GET); a reply without the page's script (POST)."""
    conversation = access.get_conversation_for_user(request.user, conversation_id)
    if request.method == "POST":
        return send(request, conversation)
    return render_conversation(request, conversation)


def render_conversation(
    request,
    conversation,
    *,
    draft: str = "",
    key: str = "",
    error: str = "",
    status=200,
):
    thread = load_thread(request.user, conversation)
    items = [
        message_item(m, thread) for m in access.messages_of(conversation, request.user)
    ]
    people, hidden = visible_people(thread)
    # The thread chosen: from "Reply privately" (?to=), or the form sent back.
    to = parse_id(request.POST.get("private_to") or request.GET.get("to"))
    reply = reply_state(thread, to=to)
    data = {
        "id": conversation.pk,
        "me": request.user.pk,
        "messages_api": reverse("messaging:api_messages", args=[conversation.pk]),
        "read_api": reverse("messaging:api_read", args=[conversation.pk]),
        "last_read": next(
            (
                p.last_read_message_id
                for p in thread.participants
                if p.user_id == request.user.pk
            ),
            0,
        ),
        "receipts": thread.receipts,
        "positions": thread.receipt_positions(),
        "names": thread.receipt_names(),
        "can_reply": reply["allowed"],
        "words": words(),
    }
    context = {
        "conversation": conversation,
        "items": items,
        "people": people,
        "hidden_people": hidden,
        "reply": reply,
        "draft": draft,
        "idempotency_key": key or new_key(),
        "error": error,
        "data": data,
        "may_send_silently": may_send_silently(request.user),
        "mute_key": conversation_key(conversation.pk),
        "mute": active_mute(request.user, conversation_key(conversation.pk)),
    }
    return render(request, "messaging/conversation.html", context, status=status)


@login_required
def new_conversation(request):
    """Start a conversation with recipients the school's policy allows."""
    user = request.user
    orgs = list(orgs_of(user).order_by("name"))
    wanted = parse_id(request.POST.get("org") or request.GET.get("org"))
    org = next((o for o in orgs if o.pk == wanted), orgs[0] if orgs else None)
    if org is None:
        return render(request, "messaging/new.html", {"orgs": []})
    allowed = policy.allowed_recipients(user, org.pk)
    initial = {}
    to = parse_id(request.GET.get("to"))
    if to and any(u.pk == to for u in allowed):
        initial["recipients"] = [to]
    form = NewConversationForm(
        request.POST if request.method == "POST" else None,
        user=user,
        org_id=org.pk,
        allowed=allowed,
        initial=initial,
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                conversation = actions.start_conversation(
                    sender=user,
                    org=org,
                    subject=data["subject"],
                    recipients=data["audience"],
                    body=data["body"],
                    idempotency_key=data["idempotency_key"],
                    reply_policy=data["reply_policy"],
                    uploads=request.FILES.getlist("files"),
                    ip=client_ip(request),
                    silent=data["silent"] and may_send_silently(user),
                )
            except actions.MessagingError as error:
                form.add_error(None, str(error))
                status = ERROR_STATUS.get(error.code, 400)
            else:
                flash.success(request, _("Conversation started."))
                return redirect("messaging:conversation", conversation.pk)
        else:
            status = 400
    context = {
        "form": form,
        "orgs": orgs,
        "org": org,
        "may_send_silently": may_send_silently(user),
    }
    response = render(request, "messaging/new.html", context, status=status)
    if status == 429:
        response["Retry-After"] = "60"
    return response


@login_required
def moderation(request):
    """School-life staff's queue of reported messages."""
    if request.user.role != User.Role.ADMINISTRATOR:
        raise Http404("no such page")
    reports = list(
        access.moderation_queue(request.user).select_related(
            "message__conversation__org", "message__sender", "reporter"
        )
    )
    items = []
    for report in reports:
        message = report.message
        # The text as it was reported (kept in the report, encrypted): the
        # message may not change while the report is open, and reports made
        # before that rule keep what the message held then.
        text = report.evidence
        items.append(
            {
                "report": report,
                "message": message,
                "html": render_message(text) if text else "",
                "deleted": not text and bool(message.deleted_at),
                "suspended": policy.is_suspended(
                    message.sender, message.conversation.org_id
                ),
            }
        )
    audit.record_read(
        actor=request.user,
        action="moderation.viewed",
        target_type="report_list",
        target_id=0,
        org_ids=[report.message.conversation.org_id for report in reports],
        detail={"reports": [report.pk for report in reports][:100]},
    )
    return render(
        request,
        "messaging/moderation.html",
        {"items": items, "form": ModerationForm()},
    )


@require_POST
@login_required
def moderate(request, report_id: int):
    """Hide the reported message, dismiss the report, or suspend its sender."""
    report = access.get_report_for_moderator(request.user, report_id)
    form = ModerationForm(request.POST)
    if not form.is_valid():
        flash.error(request, _("Choose what to do with the report."))
        return redirect("messaging:moderation")
    decision = form.cleaned_data["decision"]
    ip = client_ip(request)
    if decision in ("hide", "hide_suspend", "dismiss"):
        actions.moderate_report(
            report=report, moderator=request.user, hide=decision != "dismiss", ip=ip
        )
        flash.success(
            request,
            _("The report is dismissed.")
            if decision == "dismiss"
            else _("The message is hidden."),
        )
    if decision in ("suspend", "hide_suspend"):
        message = report.message
        actions.suspend_writer(
            user=message.sender,
            org=message.conversation.org,
            moderator=request.user,
            until=timezone.now() + SUSPENSION,
            reason=f"report {report.pk}: {report.reason}",
            ip=ip,
        )
        flash.success(
            request,
            _("%(name)s may not write for 7 days.")
            % {"name": display_name(message.sender)},
        )
    return redirect("messaging:moderation")


@require_GET
@login_required
def attachment(request, attachment_id: int):
    """Serve a file, decrypted, to the participants who may see its message."""
    attachment = access.get_attachment_for_user(request.user, attachment_id)
    try:
        data = files.read_decrypted(attachment.file)
    except (FileNotFoundError, crypto.InvalidToken):
        log.error("attachment %s cannot be read", attachment.pk)
        raise Http404("no such file") from None
    audit.record(
        actor=request.user,
        action="attachment.downloaded",
        target_type="attachment",
        target_id=attachment.pk,
        org_id=attachment.message.conversation.org_id,
        detail={"message": attachment.message_id},
    )
    name = files.download_name(decrypt_text(attachment.name) or "", attachment.mime)
    return files.serve(data, mime=attachment.mime, name=name)


# JSON endpoints --------------------------------------------------------------


def api_conversation(user: User, conversation_id: int) -> Conversation:
    return access.get_conversation_for_user(user, conversation_id)


def api_404() -> JsonResponse:
    return json_error("not_found", 404, _("No such conversation or message."))


@require_GET
@login_required
def api_unread(request):
    """``{"conversations": n, "messages": m}`` unread by the user."""
    conversations, count = access.unread_totals(request.user)
    return JsonResponse({"conversations": conversations, "messages": count})


@require_GET
@login_required
def api_conversation_row(request, conversation_id: int):
    """One inbox row: ``{id, subject, unread, last_message_at, matches, html}``.

    ``matches`` says whether the row belongs in an inbox searched for ``?q=``.
    """
    query = clean_query(request.GET.get("q"))
    conversation = inbox_queryset(request.user).filter(pk=conversation_id).first()
    if conversation is None:
        return api_404()
    matches = (
        not query
        or access.search_conversations(request.user, query, only=conversation_id)
        .filter(pk=conversation_id)
        .exists()
    )
    row = conversation_row(conversation, request.user)
    return JsonResponse(
        {
            "id": conversation.pk,
            "subject": conversation.subject,
            "unread": row["unread"],
            "last_message_at": row["last"].isoformat(),
            "matches": matches,
            "html": render_to_string(
                "messaging/_conversation_row.html", {"row": row}, request=request
            ),
        }
    )


@login_required
def api_messages(request, conversation_id: int):
    """GET ``?after=<id>``: ``{conversation_id, messages: [...], more}``, 100 at
    most, by id. POST: send a reply (``body``, ``idempotency_key``, ``files``)."""
    try:
        conversation = api_conversation(request.user, conversation_id)
    except Http404:
        return api_404()
    if request.method == "POST":
        return send(request, conversation)
    if request.method != "GET":
        return json_error("method_not_allowed", 405, "GET or POST")
    raw = request.GET.get("after", "0")
    after = 0 if raw in ("", "0") else parse_id(raw)
    if after is None:
        return json_error("invalid", 400, "after must be a message id")
    thread = load_thread(request.user, conversation)
    found = list(
        access.messages_of(conversation, request.user, after=after)[: PAGE_SIZE + 1]
    )
    return JsonResponse(
        {
            "conversation_id": conversation.pk,
            "messages": [message_json(request, m, thread) for m in found[:PAGE_SIZE]],
            "more": len(found) > PAGE_SIZE,
        }
    )


def send(request, conversation: Conversation):
    """Send a reply; JSON for the page's script, a redirect without it."""
    form = MessageForm(request.POST)
    as_json = wants_json(request)
    if not form.is_valid():
        message = _("The form is incomplete: reload the page.")
        if as_json:
            return json_error("invalid", 400, message)
        flash.error(request, message)
        return back_to(conversation)
    data = form.cleaned_data
    try:
        message = actions.send_message(
            conversation=conversation,
            sender=request.user,
            body=data["body"],
            idempotency_key=data["idempotency_key"],
            uploads=request.FILES.getlist("files"),
            ip=client_ip(request),
            silent=data["silent"] and may_send_silently(request.user),
            private_to=data["private_to"],
        )
    except actions.MessagingError as error:
        if as_json:
            return error_response(error)
        response = render_conversation(
            request,
            conversation,
            draft=data["body"],
            key=data["idempotency_key"],
            error=str(error),
            status=ERROR_STATUS.get(error.code, 400),
        )
        if isinstance(error, actions.RateLimited):
            response["Retry-After"] = str(error.retry_after)
        return response
    if as_json:
        thread = load_thread(request.user, conversation)
        return JsonResponse({"message": message_json(request, message, thread)})
    if data["private_to"]:
        return redirect(
            f"{reverse('messaging:conversation', args=[conversation.pk])}"
            f"?to={data['private_to']}#message-{message.pk}"
        )
    return back_to(conversation, message.pk)


def conversation_message(request, conversation_id: int, message_id: int):
    """Return ``(conversation, message)`` the user may see, else raise Http404."""
    conversation = api_conversation(request.user, conversation_id)
    message = access.get_message_for_user(request.user, message_id)
    if message.conversation_id != conversation.pk:
        raise Http404("no such message")
    return conversation, message


@require_GET
@login_required
def api_message(request, conversation_id: int, message_id: int):
    """One message: ``{"message": {id, sender_id, ..., html}}``."""
    try:
        conversation, message = conversation_message(
            request, conversation_id, message_id
        )
    except Http404:
        return api_404()
    thread = load_thread(request.user, conversation)
    return JsonResponse({"message": message_json(request, message, thread)})


def message_change(request, conversation_id: int, message_id: int, change):
    """Run ``change(conversation, message)`` (one action) and answer.

    ``change`` returns a success text or raises ``MessagingError``. JSON for
    the page's script (the message as ``message_json``), else a redirect.
    """
    as_json = wants_json(request)
    try:
        conversation, message = conversation_message(
            request, conversation_id, message_id
        )
    except Http404:
        if as_json:
            return api_404()
        raise
    try:
        done = change(conversation, message)
    except actions.MessagingError as error:
        if as_json:
            return error_response(error)
        flash.error(request, str(error))
        return back_to(conversation, message.pk)
    if as_json:
        message.refresh_from_db()
        thread = load_thread(request.user, conversation)
        return JsonResponse(
            {"message": message_json(request, message, thread), "status": done}
        )
    flash.success(request, done)
    return back_to(conversation, message.pk)


@require_POST
@login_required
def edit(request, conversation_id: int, message_id: int):
    """Replace the text of one's own message (15 minutes)."""

    def change(conversation, message):
        form = EditForm(request.POST)
        if not form.is_valid():
            raise actions.MessagingError(_("The text is missing."), "invalid")
        actions.edit_message(
            message=message,
            editor=request.user,
            body=form.cleaned_data["body"],
            ip=client_ip(request),
        )
        return _("Changes saved.")

    return message_change(request, conversation_id, message_id, change)


@require_POST
@login_required
def delete(request, conversation_id: int, message_id: int):
    """Delete a message for everyone (its sender, or the school's staff)."""

    def change(conversation, message):
        actions.delete_message(
            message=message, actor=request.user, ip=client_ip(request)
        )
        return _("Message deleted.")

    return message_change(request, conversation_id, message_id, change)


@require_POST
@login_required
def report(request, conversation_id: int, message_id: int):
    """Report someone else's message to the school's moderation queue."""

    def change(conversation, message):
        form = ReportForm(request.POST)
        if not form.is_valid():
            raise actions.MessagingError(
                _("Say why you report this message."), "invalid"
            )
        actions.report_message(
            message=message,
            reporter=request.user,
            reason=form.cleaned_data["reason"],
            ip=client_ip(request),
        )
        return _("Thank you: the school will look at this message.")

    return message_change(request, conversation_id, message_id, change)


@require_POST
@login_required
def api_read(request, conversation_id: int):
    """Mark read up to ``message_id`` (JSON or form body): ``{"last_read": id}``.

    The position moves to the newest message the user may see at or before
    ``message_id``, so a forged id far ahead cannot mark future messages read.
    """
    try:
        conversation = api_conversation(request.user, conversation_id)
    except Http404:
        return api_404()
    raw = request.POST.get("message_id")
    if raw is None and request.content_type == "application/json":
        try:
            raw = json.loads(request.body or b"{}").get("message_id")
        except (ValueError, AttributeError, RecursionError):
            raw = None
    wanted = parse_id(raw)
    if wanted is None:
        return json_error("invalid", 400, "message_id must be a message id")
    last_read = actions.mark_read(
        conversation=conversation,
        user=request.user,
        message_id=wanted,
        ip=client_ip(request),
    )
    return JsonResponse({"last_read": last_read})
