"""Course documents: folders, files and links in a space, files in versions.

A **space** is where documents live and decides who reads them
(``core.documents.access``): a class (``SchoolClass``, a homeroom such as
"4e B" or a group such as "4e B Allemand": both are classes) or a course
(``Course``, a subject of one school), shared between the teachers of that
subject there. Every folder and item names its space through exactly one of
``school_class`` and ``course``.

Folders make a tree (``parent``); an item with no folder sits at the top of
its space. An item is a **file** or a **link** (an http(s) URL). A file has
versions: each upload is a new :class:`DocumentVersion` with its own stored
file, and the old ones stay, listed and downloadable, until the item is
deleted. ``guardians_may_see`` is the teacher's choice per item (its default
is the folder's); a folder's own flag also hides the folder from guardians.

Course documents are teaching material, not personal data: they are stored
as sent, not encrypted (``docs/security.md``), under random names
(``core.files.RandomName``), in the ``documents`` storage
(``settings.STORAGES``: disk, or an S3-compatible store).
"""

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.files import RandomName


def documents_storage():
    """The storage of course documents (``STORAGES["documents"]``)."""
    return storages["documents"]


def _one_space(name: str) -> models.CheckConstraint:
    """Exactly one of class and course names the space."""
    return models.CheckConstraint(
        condition=(Q(school_class__isnull=False) & Q(course__isnull=True))
        | (Q(school_class__isnull=True) & Q(course__isnull=False)),
        name=f"{name}_in_one_space",
    )


class InSpace(models.Model):
    """A row of a space: a class's or a course's."""

    school_class = models.ForeignKey(
        "roster.SchoolClass",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    course = models.ForeignKey(
        "roster.Course",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        abstract = True


class Folder(InSpace):
    """A folder of a space; ``parent`` is ``None`` at the top."""

    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subfolders",
    )
    name = models.CharField(_("name"), max_length=120)
    guardians_may_see = models.BooleanField(_("guardians may see"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("folder")
        verbose_name_plural = _("folders")
        ordering = ["name"]
        constraints = [_one_space("folder")]

    def __str__(self) -> str:
        return self.name


class Item(InSpace):
    """A file or a link of a space, in a folder or at its top.

    ``updated_at`` moves with each new version (lists sort by it).
    """

    class Kind(models.TextChoices):
        FILE = "file", _("file")
        LINK = "link", _("link")

    folder = models.ForeignKey(
        Folder, on_delete=models.CASCADE, null=True, blank=True, related_name="items"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    url = models.URLField(_("address"), max_length=1000, blank=True)
    guardians_may_see = models.BooleanField(_("guardians may see"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-updated_at", "-pk"]
        constraints = [_one_space("item")]
        indexes = [
            models.Index(fields=["school_class", "-updated_at"]),
            models.Index(fields=["course", "-updated_at"]),
        ]

    def __str__(self) -> str:
        return self.title


class DocumentVersion(models.Model):
    """One upload of a file item: the newest is the item's current file.

    ``size`` counts against the quota of ``uploaded_by``
    (``settings.DOCUMENTS_QUOTA_BYTES``); ``mime`` was detected from the
    content; ``name`` is the sender's file name, cleaned (display only: the
    download name is built from it and ``mime``).
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="versions")
    file = models.FileField(
        storage=documents_storage, upload_to=RandomName("documents"), max_length=200
    )
    name = models.CharField(_("file name"), max_length=120)
    size = models.PositiveBigIntegerField()
    mime = models.CharField(max_length=100)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("document version")
        verbose_name_plural = _("document versions")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["uploaded_by"])]

    def __str__(self) -> str:
        return self.name
