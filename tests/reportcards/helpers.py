"""Reading a generated report card back."""

import io

from pypdf import PdfReader

from core import files
from core.reportcards.models import ReportCard


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF, lines joined by spaces."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(
        " ".join((page.extract_text() or "").split()) for page in reader.pages
    )


def card_of(student, period) -> ReportCard:
    return ReportCard.objects.get(student=student, period=period)


def card_text(student, period) -> str:
    return pdf_text(files.read_decrypted(card_of(student, period).file))
