"""Messaging pages and their JSON endpoints (mounted at ``/messages/``)."""

from django.urls import path, register_converter

from core.messaging import views


class IdConverter:
    """A positive id that fits a 64-bit column: ``1``, ``42``; not ``042``.

    A longer number would overflow the database driver (a 500); with this
    converter it is simply not a URL (404), like any other unknown id.
    """

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "id")

app_name = "messaging"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("new/", views.new_conversation, name="new"),
    path("moderation/", views.moderation, name="moderation"),
    path(
        "moderation/<id:report_id>/",
        views.moderate,
        name="moderate",
    ),
    path("files/<id:attachment_id>/", views.attachment, name="attachment"),
    path("api/unread/", views.api_unread, name="api_unread"),
    path(
        "api/conversations/<id:conversation_id>/",
        views.api_conversation_row,
        name="api_conversation_row",
    ),
    path("<id:conversation_id>/", views.conversation, name="conversation"),
    path(
        "<id:conversation_id>/api/messages/",
        views.api_messages,
        name="api_messages",
    ),
    path(
        "<id:conversation_id>/api/messages/<id:message_id>/",
        views.api_message,
        name="api_message",
    ),
    path(
        "<id:conversation_id>/api/messages/<id:message_id>/edit/",
        views.edit,
        name="edit",
    ),
    path(
        "<id:conversation_id>/api/messages/<id:message_id>/delete/",
        views.delete,
        name="delete",
    ),
    path(
        "<id:conversation_id>/api/messages/<id:message_id>/report/",
        views.report,
        name="report",
    ),
    path("<id:conversation_id>/api/read/", views.api_read, name="api_read"),
]
