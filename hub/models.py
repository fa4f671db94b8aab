"""The durable stream log (ARCHITECTURE.md P1, P2).

A ``Stream`` is a named, append-only sequence of ``Event`` rows numbered by a
gap-free offset starting at 1. ``epoch`` changes when a stream's history is
lost or rebuilt, so a client holding an offset of another epoch is told to
reset. ``ReadCursor`` remembers, per user and stream, the last offset the user
marked as read in the notification centre.
"""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def new_epoch() -> str:
    """Return a fresh random epoch: 12 hex characters."""
    return secrets.token_hex(6)


class Stream(models.Model):
    name = models.CharField(max_length=100, unique=True)
    epoch = models.CharField(max_length=24, default=new_epoch)
    last_offset = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("stream")
        verbose_name_plural = _("streams")

    def __str__(self) -> str:
        return f"{self.name}@{self.epoch}:{self.last_offset}"


class Event(models.Model):
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="events")
    offset = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=60)
    op = models.CharField(max_length=30)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "offset"], name="unique_stream_offset"
            )
        ]
        ordering = ["stream", "offset"]

    def __str__(self) -> str:
        return f"{self.stream.name}#{self.offset} {self.kind}.{self.op}"


class ReadCursor(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE)
    offset = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("read cursor")
        verbose_name_plural = _("read cursors")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "stream"], name="unique_read_cursor"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.stream_id} up to {self.offset}"
