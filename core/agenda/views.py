"""Agenda pages. Each view parses, checks access (``access``), calls one
action, responds."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core.agenda import access, actions
from core.agenda.forms import EntryForm, EveningForm, SlotsForm
from core.agenda.models import AgendaEntry, MeetingSlot
from core.roster.access import children_of
from core.roster.audience import level_of, reaches
from core.roster.models import Enrollment, User


def _weeks(entries, bookings, zone) -> list[tuple[dt.date, list]]:
    """Entries and bookings by the Monday of their week, in time order."""
    items = [(e.start, "entry", e) for e in entries] + [
        (b.slot.start, "booking", b) for b in bookings
    ]
    weeks: dict[dt.date, list] = {}
    for start, kind, item in sorted(items, key=lambda row: (row[0], row[1])):
        day = start.astimezone(zone).date()
        weeks.setdefault(day - dt.timedelta(days=day.weekday()), []).append(
            {"kind": kind, "item": item}
        )
    return sorted(weeks.items())


def _name_children(user: User, entries) -> None:
    """For a guardian of several children, ``entry.children``: the first
    names of those of their children each entry concerns (by class; one
    query whatever the number of entries)."""
    children = list(children_of(user)) if user.role == User.Role.GUARDIAN else []
    if len(children) < 2:
        return
    classes_of_child: dict[int, list[tuple[int, int, str]]] = {}
    for child_id, class_id, org_id, title in Enrollment.objects.filter(
        user__in=children, role=Enrollment.Role.STUDENT
    ).values_list(
        "user_id", "school_class_id", "school_class__org_id", "school_class__title"
    ):
        classes_of_child.setdefault(child_id, []).append(
            (class_id, org_id, level_of(title))
        )
    for entry in entries:
        audience = access.audience_of(entry)
        entry.children = [
            child.first_name
            for child in children
            if any(
                reaches(audience, org_id, class_id, level)
                for class_id, org_id, level in classes_of_child.get(child.pk, [])
            )
        ]


@login_required
def index(request):
    """Upcoming entries and meetings for me, by week (live); staff's links."""
    user = request.user
    now = timezone.now()
    entries = access.entries_for(user, since=now)
    _name_children(user, entries)
    bookings = list(
        access.bookings_for(user).filter(
            cancelled_at__isnull=True, slot__start__gte=now
        )
    )
    managed = access.managed_orgs(user)
    return render(
        request,
        "agenda/index.html",
        {
            "weeks": _weeks(entries, bookings, timezone.get_current_timezone()),
            "evenings": access.evenings_for(user),
            "manages": managed.exists(),
            "managed_orgs": set(managed.values_list("pk", flat=True)),
        },
    )


def _entry_initial(entry: AgendaEntry) -> dict:
    zone = timezone.get_current_timezone()
    start = entry.start.astimezone(zone)
    end = entry.end.astimezone(zone)
    audience = access.audience_of(entry)
    if entry.all_day:
        end = end - dt.timedelta(days=1)
    return {
        "org": entry.org_id,
        "kind": entry.kind,
        "title": entry.title,
        "description": entry.description,
        "location": entry.location,
        "all_day": entry.all_day,
        "start_date": start.date(),
        "start_time": None if entry.all_day else start.time(),
        "end_date": end.date(),
        "end_time": None if entry.all_day else end.time(),
        "roles": sorted(audience.roles),
        "levels": sorted(audience.levels),
        "classes": sorted(audience.class_ids),
    }


def _entry_form(request, entry: AgendaEntry | None):
    orgs = access.managed_orgs(request.user)
    if not orgs.exists():
        raise Http404
    if request.method == "POST":
        form = EntryForm(request.POST, orgs=orgs)
        if form.is_valid():
            data = form.cleaned_data
            start, end = form.moments()
            try:
                audience = actions.clean_audience(
                    data["org"],
                    roles=data["roles"],
                    levels=data["levels"],
                    class_ids=[c.pk for c in data["classes"]],
                )
                fields = {
                    "kind": data["kind"],
                    "title": data["title"],
                    "description": data["description"],
                    "location": data["location"],
                    "start": start,
                    "end": end,
                    "all_day": data["all_day"],
                    "audience": audience,
                }
                if entry is None:
                    actions.create_entry(actor=request.user, org=data["org"], **fields)
                    messages.success(request, _("Entry published."))
                else:
                    if data["org"].pk != entry.org_id:
                        raise actions.AgendaError(_("An entry stays in its school."))
                    actions.change_entry(actor=request.user, entry=entry, **fields)
                    messages.success(request, _("Entry changed."))
                return redirect("agenda:index")
            except actions.AgendaError as error:
                form.add_error(None, str(error))
    else:
        form = EntryForm(
            initial=_entry_initial(entry) if entry else {"kind": "other"}, orgs=orgs
        )
    return render(request, "agenda/entry_form.html", {"form": form, "entry": entry})


@login_required
def entry_new(request):
    return _entry_form(request, None)


@login_required
def entry_edit(request, entry_id: int):
    return _entry_form(request, access.get_entry_to_manage(request.user, entry_id))


@require_POST
@login_required
def entry_cancel(request, entry_id: int):
    entry = access.get_entry_to_manage(request.user, entry_id)
    actions.cancel_entry(actor=request.user, entry=entry)
    messages.success(request, _("Entry cancelled."))
    return redirect("agenda:index")


@login_required
def evening_new(request):
    orgs = access.managed_orgs(request.user)
    if not orgs.exists():
        raise Http404
    form = EveningForm(request.POST or None, orgs=orgs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            evening = actions.create_evening(
                actor=request.user,
                org=data["org"],
                title=data["title"],
                date=data["date"],
                class_ids=[c.pk for c in data["classes"]],
                booking_opens=data["booking_opens"],
                booking_closes=data["booking_closes"],
            )
            return redirect("agenda:evening", evening.pk)
        except actions.AgendaError as error:
            form.add_error(None, str(error))
    return render(request, "agenda/evening_form.html", {"form": form})


@login_required
def evening(request, evening_id: int):
    """A teacher's slots and who booked them; a guardian's children's
    teachers and their free slots; the staff's overview. Live."""
    return _evening_page(request, access.get_evening(request.user, evening_id))


def _evening_page(request, evening, slots_form=None, status=200):
    """The evening's page; ``slots_form`` is the teacher's bound form after
    an error (what was typed stays)."""
    user = request.user
    now = timezone.now()
    context = {
        "evening": evening,
        "is_open": evening.booking_is_open(now),
        "class_ids": access.evening_class_ids(evening),
    }
    live = access.live_by_slot(evening)
    if access.teaches_in(user, evening):
        slots = MeetingSlot.objects.filter(evening=evening, teacher=user)
        context["slots_form"] = slots_form or SlotsForm(initial={"minutes": 10})
        context["teaching"] = True
        context["my_slots"] = [(slot, live.get(slot.pk)) for slot in slots]
    children = access.guardian_choices(user, evening, live)
    if children:
        context["children"] = children
    if access.manages(user, evening.org_id):
        context["overview"] = (
            MeetingSlot.objects.filter(evening=evening)
            .select_related("teacher")
            .order_by("teacher__last_name", "start")
        )
        context["taken"] = set(live)
        context["managing"] = True
    return render(request, "agenda/evening.html", context, status=status)


@require_POST
@login_required
def open_slots(request, evening_id: int):
    evening = access.get_evening(request.user, evening_id)
    form = SlotsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Check the times and the length of the slots."))
        return _evening_page(request, evening, form, status=400)
    try:
        slots = actions.open_slots(
            teacher=request.user, evening=evening, **form.cleaned_data
        )
    except actions.AgendaError as error:
        messages.error(request, str(error))
        return _evening_page(request, evening, form, status=400)
    messages.success(
        request,
        ngettext("%(count)s slot opened.", "%(count)s slots opened.", len(slots))
        % {"count": len(slots)},
    )
    return redirect("agenda:evening", evening.pk)


@require_POST
@login_required
def remove_slot(request, slot_id: int):
    slot = access.slot_for_teacher(request.user, slot_id)
    try:
        actions.remove_slot(teacher=request.user, slot=slot)
    except actions.AgendaError as error:
        messages.error(request, str(error))
    return redirect("agenda:evening", slot.evening_id)


@require_POST
@login_required
def book(request, slot_id: int):
    slot = access.get_slot_to_book(request.user, slot_id)
    evening = slot.evening
    child_id = request.POST.get("child", "")
    child = (
        User.objects.filter(pk=int(child_id)).first() if child_id.isdecimal() else None
    )
    try:
        if child is None:
            raise actions.AgendaError(_("Choose the child."))
        actions.book(guardian=request.user, slot=slot, student=child)
        messages.success(request, _("Meeting booked."))
    except actions.AgendaError as error:
        messages.error(request, str(error))
    return redirect("agenda:evening", evening.pk)


@require_POST
@login_required
def cancel_booking(request, booking_id: int):
    booking = access.get_booking_to_cancel(request.user, booking_id)
    try:
        actions.cancel_booking(guardian=request.user, booking=booking)
        messages.success(request, _("Meeting cancelled."))
    except actions.AgendaError as error:
        messages.error(request, str(error))
    return redirect("agenda:evening", booking.evening_id)
