"""``/api/v1/me``: who the token is, and the classes and children it reads."""

from ninja import Router, Schema

from core.api.auth import READ
from core.api.schemas import answers
from core.roster.access import children_of, classes_of

router = Router(tags=["me"])


class SchoolClassOut(Schema):
    id: int
    title: str
    org_id: int
    org: str


class ChildOut(Schema):
    id: int
    first_name: str
    last_name: str
    classes: list[SchoolClassOut]


class MeOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    role: str
    classes: list[SchoolClassOut]
    children: list[ChildOut]


def _classes(user) -> list[SchoolClassOut]:
    return [
        SchoolClassOut(id=c.pk, title=c.title, org_id=c.org_id, org=c.org.name)
        for c in classes_of(user).select_related("org").order_by("title", "pk")
    ]


@router.get("", response=answers(MeOut), auth=READ)
def me(request):
    """The authenticated user; ``classes``: those whose timetable they may
    read; ``children``: a guardian's children (current links only), each
    with their classes."""
    user = request.auth
    return MeOut(
        id=user.pk,
        username=user.get_username(),
        first_name=user.first_name,
        last_name=user.last_name,
        role=user.role,
        classes=_classes(user),
        children=[
            ChildOut(
                id=child.pk,
                first_name=child.first_name,
                last_name=child.last_name,
                classes=_classes(child),
            )
            for child in children_of(user)
        ],
    )
