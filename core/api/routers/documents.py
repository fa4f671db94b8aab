"""``/api/v1/documents``: course documents (a class's or a course's space,
its folders, its files and links) and downloading a file.

Who reads which space, folder, item and version is
``core.documents.access`` (a guardian reads only what the teacher showed
to guardians); an item reads as the documents page's JSON
(``core.documents.actions.item_data``), a download is the site's
(``core.documents.download.file_response``). Writing stays on the site.
"""

from typing import Literal

from ninja import Query, Router, Schema
from pydantic import Field

from core.api.auth import READ
from core.api.schemas import ERRORS, MAX_ID, ApiError, answers, file_answer
from core.documents import access, actions
from core.documents.download import file_response
from core.documents.events import ItemData

router = Router(tags=["documents"])


class SpaceOut(Schema):
    kind: Literal["class", "course"]
    id: int
    title: str
    subject: str
    can_write: bool
    guardian_only: bool = Field(
        description="Read as a guardian: only what the teachers showed to guardians."
    )


class SpacesOut(Schema):
    spaces: list[SpaceOut]


class FolderOut(Schema):
    id: int
    name: str
    parent_id: int | None


class FolderIn(Schema):
    folder_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Default: the top."
    )


class FolderContentOut(Schema):
    space: SpaceOut
    folder: FolderOut | None
    folders: list[FolderOut]
    items: list[ItemData]


def _space(space: access.Space) -> SpaceOut:
    return SpaceOut(
        kind=space.kind,
        id=space.id,
        title=space.title,
        subject=space.subject,
        can_write=space.can_write,
        guardian_only=space.guardian_only,
    )


def _folder(folder) -> FolderOut:
    return FolderOut(id=folder.pk, name=folder.name, parent_id=folder.parent_id)


@router.get("/spaces", response=answers(SpacesOut), auth=READ)
def spaces(request):
    """The spaces the user may open: a pupil's classes, a guardian's
    children's classes, a teacher's classes and courses, the school-life
    staff's classes."""
    return SpacesOut(spaces=[_space(s) for s in access.spaces_of(request.auth)])


@router.get("/spaces/{kind}/{space_id}", response=answers(FolderContentOut), auth=READ)
def folder(
    request,
    kind: Literal["class", "course"],
    space_id: int,
    query: Query[FolderIn],
):
    """A folder of a space (``folder_id``; the top by default): its
    subfolders and its items (each with ``version_id``, its newest file's
    download) that the user reads. 404 for a space or folder they do not."""
    user = request.auth
    space = access.get_space(user, kind, space_id)
    found = access.get_folder(user, space, query.folder_id)
    return FolderContentOut(
        space=_space(space),
        folder=_folder(found) if found else None,
        folders=[_folder(f) for f in access.subfolders(user, space, found)],
        items=[
            actions.item_data(item, space.key)
            for item in access.space_items(user, space, found)
        ],
    )


@router.get(
    "/versions/{version_id}/file",
    response=ERRORS,
    auth=READ,
    openapi_extra=file_answer("application/octet-stream"),
)
def download(request, version_id: int):
    """A version's file, to a reader of its item (the same check as the
    site's download). 404 ``file_missing`` when the storage lost it."""
    version = access.get_version(request.auth, version_id)
    response = file_response(version)
    if response is None:
        raise ApiError(404, "file_missing", "The file cannot be read.")
    return response
