"""A document version's download, for the site and the API alike."""

import logging

from botocore.exceptions import BotoCoreError, ClientError
from django.http import FileResponse

from core import files

log = logging.getLogger(__name__)


def file_response(version) -> FileResponse | None:
    """The download of ``version`` (the caller checked the reader:
    ``access.get_version``), or ``None`` (logged) when its file cannot be
    read from the storage."""
    try:
        handle = version.file.open("rb")
    except (OSError, ClientError, BotoCoreError) as error:
        log.error(
            "document version %s: file %r could not be read from storage (%s)",
            version.pk,
            version.file.name,
            error.__class__.__name__,
        )
        return None
    response = FileResponse(handle)
    files.set_download_headers(
        response,
        mime=version.mime,
        name=files.download_name(version.name, version.mime, default="document"),
    )
    response["Content-Length"] = str(version.size)
    response["Cache-Control"] = "private, no-store"
    return response
