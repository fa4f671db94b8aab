"""What erasing a person does to each row that points at their account.

Erasure (:func:`core.privacy.actions.erase_person`) keeps the ``User`` row,
anonymised ("Personne effacée", ``erased-<id>``, no e-mail, no password,
inactive), so that what the school must keep still points somewhere. Each
relation to ``User`` gets one of these fates:

- ``KEEP``: the school's records (absences, excuse decisions, messages in
  conversations others take part in, moderation, history, who changed a
  lesson): the rows stay and now name "Personne effacée".
- ``END``: a current membership (enrollment, guardian link): moved to the
  history of ended memberships, as the roster does when a pupil leaves.
- ``DELETE``: the person's own private data (devices, preferences,
  notifications, sessions' traces, export files, quotas, codes): deleted.

A relation not listed here (another module's new model) is deleted when its
``on_delete`` is ``CASCADE`` (what deleting the user would have done) and
kept otherwise (``PROTECT``, ``SET_NULL``: the row is the school's).
"""

from django.db import models

KEEP = "keep"
END = "end"
DELETE = "delete"

FATES = {
    # Attendance: the school must keep the roll calls, the absences and the
    # excuse decisions (the excuse's free text and document go, see actions).
    "attendance.RollCall.taken_by": KEEP,
    "attendance.AttendanceRecord.student": KEEP,
    "attendance.Excuse.submitted_by": KEEP,
    "attendance.Excuse.reviewed_by": KEEP,
    # Messaging: conversations belong to every participant.
    "messaging.Conversation.created_by": KEEP,
    "messaging.Message.sender": KEEP,
    "messaging.Message.visible_to": KEEP,
    "messaging.Report.reporter": KEEP,
    "messaging.Report.handled_by": KEEP,
    "messaging.WriteSuspension.user": KEEP,
    "messaging.WriteSuspension.created_by": KEEP,
    "messaging.Participant.user": DELETE,
    "messaging.SendQuota.user": DELETE,
    # Roster: current memberships end; their history stays (retention).
    "roster.Enrollment.user": END,
    "roster.GuardianLink.guardian": END,
    "roster.GuardianLink.student": END,
    "roster.EndedMembership.user": KEEP,
    "roster.EndedMembership.student": KEEP,
    "roster.RosterImport.created_by": KEEP,
    "roster.User.orgs": DELETE,
    "roster.User.groups": DELETE,
    "roster.User.user_permissions": DELETE,
    # Timetable: who taught or changed a lesson is the school's record.
    "timetable.Occurrence.teachers": KEEP,
    "timetable.OccurrenceChange.changed_by": KEEP,
    "timetable.FeedToken.user": DELETE,
    # Homework: the notebook is the school's; a pupil's hand-ins are their
    # own work (their "fait" ticks cascade).
    "homework.Homework.teacher": KEEP,
    "homework.SessionContent.teacher": KEEP,
    "homework.HandIn.returned_by": KEEP,
    "homework.HandIn.student": DELETE,
    # An evaluation is the teacher's and the class's; a pupil's results are
    # their own (deleted, as their hand-ins are).
    "grades.Evaluation.teacher": KEEP,
    "grades.Mark.student": DELETE,
    "grades.SkillLevel.student": DELETE,
    # Course documents belong to the class or the subject's teachers.
    "documents.Folder.created_by": KEEP,
    "documents.Item.created_by": KEEP,
    "documents.DocumentVersion.uploaded_by": KEEP,
    # School-life notices are the school's; an acknowledgement (an outing's
    # authorisation) is its record too.
    "schoollife.Notice.author": KEEP,
    "schoollife.Acknowledgement.user": KEEP,
    "schoollife.Reminder.sent_by": KEEP,
    # Agenda: entries, evenings and slots are the school's; a guardian's
    # booking for a child is the family's own (deleted with either).
    "agenda.AgendaEntry.author": KEEP,
    "agenda.MeetingEvening.author": KEEP,
    "agenda.MeetingSlot.teacher": KEEP,
    "agenda.Booking.teacher": KEEP,
    "agenda.Booking.guardian": DELETE,
    "agenda.Booking.student": DELETE,
    # Report cards: the ENT's copy of a pupil's cards goes with the pupil
    # (the PDF names them; the school's record is the national LSU); who
    # wrote or published them is the school's record.
    "reportcards.ReportCard.student": DELETE,
    "reportcards.SubjectAppraisal.student": DELETE,
    "reportcards.ReportCard.head_appraisal_by": KEEP,
    "reportcards.SubjectAppraisal.teacher": KEEP,
    "reportcards.Publication.published_by": KEEP,
    # Accounts.
    "accounts.ActivationCode.user": DELETE,
    "accounts.ActivationCode.issued_by": KEEP,
    # The person's own delivery data and traces.
    "delivery.Preference.user": DELETE,
    "delivery.DeliverySettings.user": DELETE,
    "delivery.Mute.user": DELETE,
    "delivery.PushSubscription.user": DELETE,
    "delivery.Notification.user": DELETE,
    "delivery.Delivery.user": DELETE,
    "delivery.EmailSend.user": DELETE,
    "hub.ReadCursor.user": DELETE,
    "admin.LogEntry.user": DELETE,
    "privacy.DataExport.user": DELETE,
}


def relations(user_model) -> list[tuple[str, type[models.Model], str, object]]:
    """Return every relation to ``user_model`` as ``(key, model, field name,
    on_delete)``; many-to-many fields have ``on_delete`` None."""
    found: list[tuple[str, type[models.Model], str, object]] = []
    for field in user_model._meta.get_fields(include_hidden=True):
        if not field.is_relation:
            continue
        if field.many_to_many and not field.auto_created:
            # A many-to-many field on User itself (orgs, groups, children).
            if field.remote_field.through._meta.auto_created:
                key = f"{user_model._meta.label}.{field.name}"
                found.append((key, user_model, field.name, None))
            continue
        if not field.auto_created or field.related_model is None:
            continue
        model = field.related_model
        if field.many_to_many:
            if model._meta.auto_created or not field.through._meta.auto_created:
                continue
            key = f"{model._meta.label}.{field.field.name}"
            found.append((key, model, field.field.name, None))
            continue
        if model._meta.auto_created:  # the rows of a many-to-many table
            continue
        key = f"{model._meta.label}.{field.field.name}"
        found.append((key, model, field.field.name, field.on_delete))
    return found


def fate_of(key: str, on_delete) -> str:
    """Return what erasure does to the relation ``key`` (see module)."""
    if key in FATES:
        return FATES[key]
    return DELETE if on_delete is models.CASCADE else KEEP
