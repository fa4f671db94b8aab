"""``/api/v1/reportcards``: a guardian's children's published report cards
and their PDF.

As on the site (``core.reportcards.access``): the list is a current
guardian's (``cards_for_guardian``: published periods whose PDF exists;
empty for anyone else, pupils included); the PDF is for those guardians
and the school-life staff of the card's school, whose download is audited
(``core.reportcards.download.pdf_response``, the site's own).
"""

import datetime as dt

from ninja import Router, Schema

from core.api.auth import READ
from core.api.schemas import ERRORS, answers, file_answer
from core.reportcards import access
from core.reportcards.download import pdf_response

router = Router(tags=["reportcards"])


class CardOut(Schema):
    id: int
    period_id: int
    period: str
    class_id: int
    class_title: str
    org: str
    generated_at: dt.datetime | None


class ChildCardsOut(Schema):
    id: int
    first_name: str
    last_name: str
    cards: list[CardOut]


class CardsOut(Schema):
    children: list[ChildCardsOut]


@router.get("", response=answers(CardsOut), auth=READ)
def cards(request):
    """Each current child's published report cards, by period (download
    each with ``/reportcards/{card_id}/pdf``)."""
    return CardsOut(
        children=[
            ChildCardsOut(
                id=child.pk,
                first_name=child.first_name,
                last_name=child.last_name,
                cards=[
                    CardOut(
                        id=card.pk,
                        period_id=card.period_id,
                        period=card.period.title,
                        class_id=card.school_class_id,
                        class_title=card.school_class.title,
                        org=card.school_class.org.name,
                        generated_at=card.generated_at,
                    )
                    for card in found
                ],
            )
            for child, found in access.cards_for_guardian(request.auth).items()
        ]
    )


@router.get(
    "/{card_id}/pdf",
    response=ERRORS,
    auth=READ,
    openapi_extra=file_answer("application/pdf"),
)
def pdf(request, card_id: int):
    """A report card's PDF: a current guardian of the pupil once published,
    or school-life staff of its school (the download is audited). 404 for
    anyone else."""
    return pdf_response(request.auth, card_id)
