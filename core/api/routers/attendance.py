"""``/api/v1/attendance``: absences and lateness, excuses, the CPE's decisions.

Reads and writes go through ``core.attendance.access`` and
``core.attendance.actions`` (who sees which record, who may excuse or
decide, what an excuse may be): a guardian sees and excuses their
children's, a pupil sees their own, a teacher the roll calls they took,
school-life staff those of their schools, and decide the excuses.
"""

import datetime as dt

from ninja import Query, Router, Schema, Status
from pydantic import Field

from core.api.auth import READ, WRITE
from core.api.schemas import Error, answers, refused
from core.attendance import access, actions
from core.attendance.events import LessonRef
from core.attendance.models import AttendanceRecord, Excuse

router = Router(tags=["attendance"])


class ExcuseOut(Schema):
    id: int
    record_id: int
    status: Excuse.Status
    reason: Excuse.Reason
    submitted_at: dt.datetime
    reviewed_at: dt.datetime | None
    review_note: str
    has_document: bool


class RecordOut(Schema):
    id: int
    student_id: int
    student_name: str
    status: AttendanceRecord.Status
    minutes_late: int | None
    lesson: LessonRef
    excuses: list[ExcuseOut]


class RecordsOut(Schema):
    records: list[RecordOut]


class RecordFilter(Schema):
    student_id: int | None = Field(None, ge=1, le=2**63 - 1)
    limit: int = Field(100, ge=1, le=100)


class ExcuseIn(Schema):
    reason: Excuse.Reason
    comment: str = Field("", max_length=1000)


class DecisionIn(Schema):
    accept: bool
    note: str = Field("", max_length=300)


class QueueItemOut(Schema):
    excuse: ExcuseOut
    student_id: int
    student_name: str
    lesson: LessonRef


class QueueOut(Schema):
    excuses: list[QueueItemOut]


def _excuse(excuse: Excuse) -> ExcuseOut:
    return ExcuseOut(
        id=excuse.pk,
        record_id=excuse.record_id,
        status=Excuse.Status(excuse.status),
        reason=Excuse.Reason(excuse.reason),
        submitted_at=excuse.submitted_at,
        reviewed_at=excuse.reviewed_at,
        review_note=excuse.review_note,
        has_document=bool(excuse.document),
    )


@router.get("/records", response=answers(RecordsOut), auth=READ)
def records(request, filters: Query[RecordFilter]):
    """The absences and lateness the user may see, newest lesson first
    (``limit``, 100 at most); ``student_id`` keeps one pupil's."""
    user = request.auth
    found = access.visible_records(user)
    if filters.student_id is not None:
        found = found.filter(student_id=filters.student_id)
    found = list(found[: filters.limit])
    ids = [r.pk for r in found]
    actions.log_staff_read(
        user,
        AttendanceRecord.objects.filter(pk__in=ids),
        "attendance.viewed",
        "attendance_list",
        0,
    )
    return RecordsOut(
        records=[
            RecordOut(
                id=r.pk,
                student_id=r.student_id,
                student_name=r.student.get_full_name(),
                status=AttendanceRecord.Status(r.status),
                minutes_late=r.minutes_late,
                lesson=actions.lesson_ref(r.roll_call.occurrence),
                excuses=[_excuse(e) for e in r.excuses.all()],
            )
            for r in found
        ]
    )


@router.post(
    "/records/{record_id}/excuses",
    response={**answers(ExcuseOut, 201), 409: Error},
    auth=WRITE,
)
def submit_excuse(request, record_id: int, payload: ExcuseIn):
    """A guardian excuses one of their children's absences or lateness (a
    reason from the list, a comment; a document is sent from the site).
    409 ``refused`` when it is a presence, an excuse is pending or one was
    accepted."""
    record = access.get_record_for_guardian(request.auth, record_id)
    try:
        excuse = actions.submit_excuse(
            record=record,
            guardian=request.auth,
            reason=payload.reason,
            comment=payload.comment.strip(),
        )
    except actions.AttendanceError as error:
        raise refused(error) from None
    return Status(201, _excuse(excuse))


@router.get("/excuses/pending", response=answers(QueueOut), auth=READ)
def pending_excuses(request):
    """School-life staff: the excuses waiting for a decision in their
    schools, oldest first (empty for anyone else)."""
    queue = access.excuse_queue(request.auth)
    return QueueOut(
        excuses=[
            QueueItemOut(
                excuse=_excuse(excuse),
                student_id=excuse.record.student_id,
                student_name=excuse.record.student.get_full_name(),
                lesson=actions.lesson_ref(excuse.record.roll_call.occurrence),
            )
            for excuse in queue[:100]
        ]
    )


@router.post(
    "/excuses/{excuse_id}/decision",
    response={**answers(ExcuseOut), 409: Error},
    auth=WRITE,
)
def decide_excuse(request, excuse_id: int, payload: DecisionIn):
    """School-life staff accept or refuse a pending excuse of their schools
    (404 for anyone else). 409 ``refused`` when it was decided meanwhile."""
    excuse = access.get_excuse_for_review(request.auth, excuse_id)
    try:
        excuse = actions.review_excuse(
            excuse=excuse,
            reviewer=request.auth,
            accept=payload.accept,
            note=payload.note,
        )
    except actions.AttendanceError as error:
        raise refused(error) from None
    return _excuse(excuse)
