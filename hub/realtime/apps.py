from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RealtimeConfig(AppConfig):
    """The realtime server as an app: no models; it subscribes to the log."""

    name = "hub.realtime"
    label = "realtime"
    verbose_name = _("Realtime server")

    def ready(self) -> None:
        from hub import subscribers
        from hub.realtime import gcwatch, publish

        # The sockets' doorbells after each commit that appended events.
        # publish.ring is looked up at each commit, as hub.send_event is at
        # each call: tests replace it.
        subscribers.on_commit(lambda envelopes: publish.ring(envelopes))
        gcwatch.install()
