from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RosterConfig(AppConfig):
    name = "core.roster"
    label = "roster"
    verbose_name = _("Roster")

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from core.files import connect_file_deletion
        from core.roster import signals, socket_access  # noqa: F401
        from core.roster.models import RosterImport
        from core.roster.stored_uploads import remove_import_files
        from core.sockets import register_domain

        # The realtime server's questions to the domain (hub/realtime/registry.py).
        register_domain()
        # Every app's models are loaded by now: connect those with files.
        connect_file_deletion()
        post_delete.connect(
            remove_import_files, sender=RosterImport, dispatch_uid="roster-uploads"
        )
