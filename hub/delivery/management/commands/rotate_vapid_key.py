"""Replace the VAPID key (RFC 8292) with a new one and retire the old ones.

Push services refuse pushes to a subscription signed by another key than the
one it was made with (RFC 8292 §4.2), so every existing subscription stops
receiving until its browser re-subscribes. The page does this by itself on
its next load: it compares its subscription's ``applicationServerKey`` with
the hub's public key and subscribes again when they differ. Rotate only when
the private key may have leaked.
"""

from django.core.management.base import BaseCommand

from hub.delivery import vapid


class Command(BaseCommand):
    help = (
        "Generate a new VAPID key pair and retire the old ones. Existing push "
        "subscriptions stop working until each browser re-subscribes (on its "
        "next page load)."
    )

    def handle(self, *args, **options):
        key = vapid.rotate()
        self.stdout.write(
            f"New VAPID public key (applicationServerKey): {key.public_key}"
        )
        self.stdout.write(
            "Older keys are retired: push services now refuse pushes to "
            "subscriptions made with them. Each browser re-subscribes with the "
            "new key the next time it loads a page of the hub; until then, "
            "pushes to it are refused."
        )
