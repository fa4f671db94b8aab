"""Course documents' pages. Each view parses, checks access, calls one
action, responds.

``/documents/``: the spaces of the user (a guardian picks a child with
``?child=``); ``/documents/<class|course>/<id>/?folder=<id>``: one space,
its folder tree, its items with their versions, the teacher's forms and
quota; downloads only through :func:`download` (access checked, streamed
from the storage).
"""

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.documents import access, actions
from core.documents.download import file_response
from core.documents.models import Folder
from core.roster.access import children_of
from core.roster.models import User

log = logging.getLogger(__name__)


def _int(value) -> int | None:
    try:
        number = int(value or "")
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _flag(post) -> bool:
    return post.get("guardians_may_see") == "on"


def _space_url(space: access.Space, folder_id: int | None = None) -> str:
    url = reverse("documents:space", args=[space.kind, space.id])
    return f"{url}?folder={folder_id}" if folder_id else url


@login_required
def index(request):
    """The spaces the user may open; a guardian's per child."""
    user = request.user
    children = list(children_of(user)) if user.role == User.Role.GUARDIAN else []
    child = None
    if children:
        child_id = _int(request.GET.get("child"))
        if child_id is not None:
            child = next((c for c in children if c.pk == child_id), None)
            if child is None:
                raise Http404("no such child")
        else:
            child = children[0]
    spaces = access.spaces_of(user, child)
    return render(
        request,
        "documents/index.html",
        {"spaces": spaces, "children": children, "child": child},
    )


def _breadcrumbs(user, space, folder) -> list:
    """Return ``folder``'s ancestors, top first, then ``folder``: the space's
    folders ``user`` sees are few, loaded in one query and walked here."""
    if folder is None:
        return []
    folders: dict[int | None, Folder] = {
        f.pk: f for f in access.readable_folders(user).filter(**space.filter())
    }
    trail = [folder]
    parent = folders.get(folder.parent_id)
    while parent is not None and parent not in trail:
        trail.append(parent)
        parent = folders.get(parent.parent_id)
    return list(reversed(trail))


def _rows(items) -> list[dict]:
    return [{"item": item, "versions": list(item.versions.all())} for item in items]


@login_required
def space(request, kind: str, space_id: int):
    """One space: folders, items, versions; the teacher's forms and quota."""
    user = request.user
    space = access.get_space(user, kind, space_id)
    folder = access.get_folder(user, space, _int(request.GET.get("folder")))
    items = list(access.space_items(user, space, folder))
    context: dict[str, Any] = {
        "space": space,
        "folder": folder,
        "trail": _breadcrumbs(user, space, folder),
        "folders": list(access.subfolders(user, space, folder)),
        "rows": _rows(items),
        "initial": {
            "space": space.key,
            "folder_id": folder.pk if folder else None,
            "can_write": space.can_write,
            "download": reverse("documents:download", args=[0]),
            "add_version": reverse("documents:add_version", args=[0]),
            "delete": reverse("documents:delete", args=[0]),
            "visibility": reverse("documents:set_visibility", args=[0]),
            "item_ids": [item.pk for item in items],
        },
    }
    if space.can_write:
        used = actions.used_bytes(user)
        quota = settings.DOCUMENTS_QUOTA_BYTES
        context.update(
            used=used,
            quota=quota,
            used_percent=min(100, round(100 * used / quota)) if quota else 100,
            max_file=settings.DOCUMENTS_MAX_FILE_BYTES,
            default_guardians=folder.guardians_may_see if folder else True,
        )
    return render(request, "documents/space.html", context)


@require_POST
@login_required
def add(request, kind: str, space_id: int):
    """Add a file or a link (``kind`` field ``file``/``link``) to a space."""
    user = request.user
    space = access.get_space(user, kind, space_id, write=True)
    folder = access.get_folder(user, space, _int(request.POST.get("folder")))
    folder_id = folder.pk if folder else None
    try:
        if request.POST.get("kind") == "link":
            item = actions.add_link(
                space=space,
                actor=user,
                url=request.POST.get("url", ""),
                title=request.POST.get("title", ""),
                folder=folder,
                guardians_may_see=_flag(request.POST),
            )
        else:
            upload = request.FILES.get("file")
            if upload is None:
                raise actions.DocumentError("Choisissez un fichier.")
            item = actions.add_file(
                space=space,
                actor=user,
                upload=upload,
                title=request.POST.get("title", ""),
                folder=folder,
                guardians_may_see=_flag(request.POST),
            )
    except actions.DocumentError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("“%(title)s” was added.") % {"title": item.title})
    return redirect(_space_url(space, folder_id))


@require_POST
@login_required
def add_folder(request, kind: str, space_id: int):
    """Create a folder in a space (under ``parent``)."""
    user = request.user
    space = access.get_space(user, kind, space_id, write=True)
    parent = access.get_folder(user, space, _int(request.POST.get("parent")))
    try:
        folder = actions.create_folder(
            space=space,
            actor=user,
            name=request.POST.get("name", ""),
            parent=parent,
            guardians_may_see=_flag(request.POST),
        )
    except actions.DocumentError as error:
        messages.error(request, str(error))
        return redirect(_space_url(space, parent.pk if parent else None))
    return redirect(_space_url(space, folder.pk))


@require_POST
@login_required
def delete_folder(request, folder_id: int):
    """Delete an empty folder."""
    user = request.user
    folder = access.readable_folders(user).filter(pk=folder_id).first()
    if folder is None:
        raise Http404("no such folder")
    space = access.get_space(user, *access.space_of(folder), write=True)
    try:
        actions.delete_folder(folder=folder, space=space, actor=user)
    except actions.DocumentError as error:
        messages.error(request, str(error))
        return redirect(_space_url(space, folder.pk))
    return redirect(_space_url(space, folder.parent_id))


@require_POST
@login_required
def add_version(request, item_id: int):
    """Upload a new version of a file item."""
    user = request.user
    item, space = access.get_item(user, item_id, write=True)
    try:
        upload = request.FILES.get("file")
        if upload is None:
            raise actions.DocumentError("Choisissez un fichier.")
        actions.add_version(item=item, space=space, actor=user, upload=upload)
    except actions.DocumentError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, _("New version of “%(title)s” added.") % {"title": item.title}
        )
    return redirect(_space_url(space, item.folder_id))


@require_POST
@login_required
def delete(request, item_id: int):
    """Delete an item and all its versions."""
    user = request.user
    item, space = access.get_item(user, item_id, write=True)
    folder_id, title = item.folder_id, item.title
    actions.delete_item(item=item, space=space, actor=user)
    messages.success(request, _("“%(title)s” was deleted.") % {"title": title})
    return redirect(_space_url(space, folder_id))


@require_POST
@login_required
def set_visibility(request, item_id: int):
    """Show an item to guardians (``visible=1``) or hide it from them."""
    user = request.user
    item, space = access.get_item(user, item_id, write=True)
    visible = request.POST.get("visible") == "1"
    try:
        changed = actions.set_guardian_visibility(
            item=item, space=space, actor=user, visible=visible
        )
    except actions.DocumentError as error:
        messages.error(request, str(error))
    else:
        if changed:
            text = (
                _("“%(title)s” is now visible to guardians.")
                if visible
                else _("“%(title)s” is now hidden from guardians.")
            )
            messages.success(request, text % {"title": item.title})
    return redirect(_space_url(space, item.folder_id))


@login_required
def download(request, version_id: int):
    """Stream one version's file to a reader of its item.

    Read from the storage in chunks (``FileResponse``; on S3 too), never
    whole in memory; the type is the one detected at upload, the name the
    sender's with that type's extension (``core.files.download_name``).
    Downloads are not audited: course documents are no pupil's data; every
    write is.

    A version whose file is missing from the storage (deleted on disk, no
    such key in the bucket) is logged and answered with a 404 page saying
    so, not a server error.
    """
    version = access.get_version(request.user, version_id)
    response = file_response(version)
    if response is None:
        return render(
            request,
            "documents/missing.html",
            {"version": version, "item": version.item},
            status=404,
        )
    return response


@login_required
def api_items(request, kind: str, space_id: int):
    """JSON of a folder's items (``?folder=``): what the live page reloads
    after a reset of its stream."""
    user = request.user
    space = access.get_space(user, kind, space_id)
    folder = access.get_folder(user, space, _int(request.GET.get("folder")))
    items = access.space_items(user, space, folder)
    return JsonResponse(
        {"items": [actions.item_data(i, space.key).model_dump() for i in items]}
    )
