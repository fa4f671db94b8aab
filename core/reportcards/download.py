"""A report card's PDF, for the site and the API alike."""

import logging

from django.http import Http404, HttpResponse
from django.utils.text import get_valid_filename

from core import crypto, files
from core.reportcards import access, actions
from core.roster.models import User

log = logging.getLogger(__name__)


def pdf_response(user: User, card_id: int) -> HttpResponse:
    """Card ``card_id``'s PDF for ``user`` (``access.get_card_to_download``;
    a staff download audited), or raise Http404."""
    card, as_staff = access.get_card_to_download(user, card_id)
    try:
        data = files.read_decrypted(card.file)
    except (FileNotFoundError, crypto.InvalidToken):
        log.error("report card %s: its file cannot be read", card.pk)
        raise Http404("no such report card") from None
    if as_staff:
        actions.log_download(user, card)
    name = get_valid_filename(
        f"Bulletin {card.period.title} {card.student.last_name} {card.student.first_name}"
    )
    return files.serve(data, mime="application/pdf", name=f"{name}.pdf")
