"""Who may read and publish school-life notices: the one definition, used
by pages, downloads, actions and events.

- **Publishing** and reading acknowledgements: school-life staff holding
  :data:`STAFF_PERMISSION` (``core.roster.access.staff_orgs``; the "Vie
  scolaire" group has it), for the notices of their own orgs only.
- **Reading** a notice: a member of its audience *now*
  (``core.roster.audience.includes``), once published and while not
  withdrawn. The audience is read from the roster at each read, so a
  guardian whose link ends loses the notice and its acknowledgement page at
  once.

"Not found" and "not allowed" raise the same ``Http404``.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import Http404

from core.roster import audience as audiences
from core.roster.access import orgs_of, staff_orgs
from core.roster.models import Enrollment, GuardianLink, Org, SchoolClass, User
from core.schoollife.models import Acknowledgement, Attachment, Notice

STAFF_PERMISSION = "schoollife.add_notice"
# How many of their most recent notices a member's list shows.
LIST_LIMIT = 60


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def publishing_orgs(user: User) -> QuerySet[Org]:
    """The orgs ``user`` publishes for (and reads acknowledgements of)."""
    return staff_orgs(user, STAFF_PERMISSION).order_by("name")


def is_publisher(user: User) -> bool:
    return publishing_orgs(user).exists()


def audience_of(notice: Notice) -> audiences.Audience:
    return audiences.Audience.from_json(notice.audience)


def reads(user: User, notice: Notice) -> bool:
    """Whether ``user`` reads ``notice`` now: published, live, and a member."""
    return (
        _active(user) and notice.live and audiences.includes(audience_of(notice), user)
    )


def notices_for(user: User) -> list[Notice]:
    """The live notices addressed to ``user`` now, newest first: the
    :data:`LIST_LIMIT` most recent of those whose audience includes them
    (filtered before the limit, so notices for others never push theirs
    out). A fixed number of queries."""
    if not _active(user):
        return []
    live = Notice.objects.filter(
        org__in=orgs_of(user),
        published_at__isnull=False,
        withdrawn_at__isnull=True,
    ).order_by("-published_at", "-pk")
    # Audiences are matched in Python (audience.visible): read the small
    # (id, audience) pairs of every live notice, then the rows kept.
    ids = [
        pk
        for pk, _audience in audiences.visible(
            user,
            live.values_list("pk", "audience"),
            lambda pair: audiences.Audience.from_json(pair[1]),
        )
    ][:LIST_LIMIT]
    return list(
        live.filter(pk__in=ids)
        .select_related("org", "author")
        .prefetch_related("attachments")
    )


def get_notice_for_reader(user: User, notice_id: int) -> Notice:
    """Return a notice ``user`` reads now, or raise Http404."""
    notice = (
        Notice.objects.select_related("org", "author")
        .prefetch_related("attachments")
        .filter(pk=notice_id)
        .first()
    )
    if notice is None or not reads(user, notice):
        raise Http404("no such notice")
    return notice


def staff_notices(user: User) -> QuerySet[Notice]:
    """The notices of the orgs ``user`` publishes for, newest first."""
    return (
        Notice.objects.filter(org__in=publishing_orgs(user))
        .select_related("org", "author")
        .order_by("-publish_at", "-pk")
    )


def get_notice_for_staff(user: User, notice_id: int) -> Notice:
    """Return a notice of ``user``'s orgs (as publisher), or raise Http404."""
    notice = (
        staff_notices(user).prefetch_related("attachments").filter(pk=notice_id).first()
    )
    if notice is None:
        raise Http404("no such notice")
    return notice


def get_attachment(user: User, attachment_id: int) -> Attachment:
    """Return a file ``user`` may download: of a notice they read, or of
    their orgs' notices as publisher; else Http404."""
    attachment = (
        Attachment.objects.select_related("notice").filter(pk=attachment_id).first()
    )
    if attachment is None:
        raise Http404("no such file")
    notice = attachment.notice
    if publishing_orgs(user).filter(pk=notice.org_id).exists() or reads(user, notice):
        return attachment
    raise Http404("no such file")


# What staff see of the acknowledgements ------------------------------------


@dataclass
class MemberRow:
    """One member of a notice's audience, as the acknowledgement list shows
    them: the guardians with the children that make them members."""

    user: User
    children: list[str] = field(default_factory=list)
    acknowledgement: Acknowledgement | None = None


@dataclass
class ClassBlock:
    """The members reached through one class (``None``: the school)."""

    school_class: SchoolClass | None
    acknowledged: list[MemberRow] = field(default_factory=list)
    waiting: list[MemberRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.acknowledged) + len(self.waiting)


def acknowledgement_table(notice: Notice) -> list[ClassBlock]:
    """Per class (by title, then the school), who has acknowledged and who
    has not, among the members now. A fixed number of queries."""
    reached = audiences.members(audience_of(notice))
    class_ids = {pk for ids in reached.values() for pk in ids if pk is not None}
    classes = SchoolClass.objects.in_bulk(list(class_ids))
    users = User.objects.in_bulk(list(reached))
    acks = {ack.user_id: ack for ack in Acknowledgement.objects.filter(notice=notice)}
    children: dict[tuple[int, int | None], list[str]] = defaultdict(list)
    guardians = [pk for pk, user in users.items() if user.role == User.Role.GUARDIAN]
    for guardian_id, class_id, first, last in (
        GuardianLink.objects.filter(
            guardian_id__in=guardians,
            student__enrollments__school_class_id__in=list(class_ids),
            student__enrollments__role=Enrollment.Role.STUDENT,
        )
        .order_by("student__first_name")
        .values_list(
            "guardian_id",
            "student__enrollments__school_class_id",
            "student__first_name",
            "student__last_name",
        )
    ):
        children[(guardian_id, class_id)].append(f"{first} {last}")
    blocks: dict[int | None, ClassBlock] = {}
    for user_id, ids in reached.items():
        for class_id in ids:
            block = blocks.setdefault(
                class_id, ClassBlock(school_class=classes.get(class_id))
            )
            row = MemberRow(
                user=users[user_id],
                children=children.get((user_id, class_id), []),
                acknowledgement=acks.get(user_id),
            )
            (block.acknowledged if row.acknowledgement else block.waiting).append(row)
    for block in blocks.values():
        for rows in (block.acknowledged, block.waiting):
            rows.sort(key=lambda r: (r.user.last_name, r.user.first_name, r.user.pk))
    return sorted(
        blocks.values(),
        key=lambda b: (
            b.school_class is None,
            b.school_class.title if b.school_class else "",
        ),
    )


def waiting_for(user: User) -> list[Notice]:
    """The notices addressed to ``user`` now that ask for an acknowledgement
    they have not given, newest first (the home card)."""
    notices = [notice for notice in notices_for(user) if notice.requires_ack]
    done = set(
        Acknowledgement.objects.filter(user=user, notice__in=notices).values_list(
            "notice_id", flat=True
        )
    )
    return [notice for notice in notices if notice.pk not in done]
