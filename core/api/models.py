"""Personal access tokens of the API (docs/api.md).

A token is a random secret of 256 bits shown once at creation; only its
SHA-256 is stored (a fast hash is right for a secret that random: nothing
to guess, unlike a password). ``prefix`` (the first characters, not secret
enough to use) lets its owner tell tokens apart.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# What a token may do: ``read`` every GET of the API and the socket, ``write``
# every request that changes something (it does not imply ``read``).
SCOPES = {"read": _("read"), "write": _("write")}


class AccessTokenQuerySet(models.QuerySet):
    def live(self, now=None) -> "AccessTokenQuerySet":
        """Keep the tokens that open the API at ``now`` (default: now)."""
        return self.filter(revoked_at=None, expires_at__gt=now or timezone.now())


class AccessToken(models.Model):
    """A personal access token of ``user``: live while not revoked and not
    expired; it opens what ``user`` may read and do, within ``scopes``."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="access_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("access token")
        verbose_name_plural = _("access tokens")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def scope_labels(self) -> list[str]:
        """The scopes as the settings page names them."""
        return [str(SCOPES.get(scope, scope)) for scope in self.scopes]

    def is_live(self, now=None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())
