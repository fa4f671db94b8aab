"""Event kinds of report cards.

- ``reportcards.available`` (published, updated) on the ``user:`` streams of
  the pupil's current guardians only (the pupil does not get the card: the
  issue says guardians only), one event per pupil: never another pupil's
  card on a family's stream. Sent by the background task once the PDFs of a
  publication exist; "updated" after a correction was published again. No
  mark, no appraisal in it: the card is read on the page.
- ``reportcards.progress`` (generated, failed, done) on the ``user:``
  streams of the school-life staff of the class's school who may publish:
  their open class page follows the generation. Not a notification.
"""

import datetime
from typing import Literal

from django.utils.translation import gettext as _

from hub.events import HubEvent, Notice


class ReportCardAvailable(HubEvent):
    """A pupil's report card of a period is published (or republished)."""

    kind = "reportcards.available"
    category = "grades"
    op: Literal["published", "updated"]
    report_card_id: int
    student_id: int
    student_name: str
    org_id: int
    class_title: str
    period_title: str
    actor_id: int

    def notice(self, created_at: datetime.datetime) -> Notice:
        """ "Bulletin disponible (1er trimestre) : Léa Dubois", or corrected."""
        values = {"period": self.period_title, "name": self.student_name}
        if self.op == "updated":
            title = _("Report card corrected (%(period)s): %(name)s") % values
        else:
            title = _("Report card available (%(period)s): %(name)s") % values
        return Notice(
            title=title,
            body=self.class_title,
            url="/reportcards/",
            tag=f"reportcard-{self.report_card_id}",
            child_id=self.student_id,
            child_name=self.student_name,
            org_id=self.org_id,
            actor_id=self.actor_id,
        )


class GenerationProgress(HubEvent):
    """Where the generation of a class's cards stands (staff pages)."""

    kind = "reportcards.progress"
    notify = False
    op: Literal["generated", "failed", "done"]
    class_id: int
    period_id: int
    ready: int
    failed: int
    total: int
