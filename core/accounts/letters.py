"""Printable activation letters: one A4 page per person, as a PDF (fpdf2).

Each page names the school, the person and (for a guardian) their children
with their classes, and carries the login, the one-time code, its expiry
date and a QR code (segno) of the activation link, which fills in the login
and the code. The text is French; DejaVu Sans, shipped in ``fonts/`` with its
licence, renders every accent (the PDF core fonts are Latin-1 only and
would miss "œ" or "’").

Plain data in (:class:`Letter`), bytes out: no query and no code issuing here
(that is :func:`core.accounts.actions.print_letters`).
"""

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import segno
from django.utils import formats, translation
from fpdf import FPDF
from PIL import Image

from core.elision import of_name

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
BLUE = (43, 95, 168)
GREY = (92, 103, 115)
TEXT = (29, 39, 51)


@dataclass(frozen=True)
class Pupil:
    """A pupil as a letter lists them: full name and classes ("4e B (Collège …)")."""

    name: str
    classes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Letter:
    """One page. ``role`` is the user's roster role; ``link`` the absolute
    activation link (QR code); ``site`` + ``path`` the address to type."""

    school: str
    name: str
    role: str
    login: str
    code: str
    expires_on: dt.date
    site: str
    path: str
    link: str
    children: list[Pupil] = field(default_factory=list)


def _french_date(day: dt.date) -> str:
    with translation.override("fr"):
        return formats.date_format(day, "j F Y")


def _qr_image(link: str, scale: int = 8) -> Image.Image:
    """Return the QR code of ``link`` as a black-and-white image.

    segno encodes; Pillow draws (segno's own PNG writer, in pure Python,
    took most of a page's time), with the standard 4-module quiet zone.
    """
    qr = segno.make(link, error="m", micro=False)
    border = 4
    size = len(qr.matrix) + 2 * border
    image = Image.new("1", (size, size), 1)
    pixels = image.load()
    assert pixels is not None  # a new image in memory
    for y, row in enumerate(qr.matrix):
        for x, dark in enumerate(row):
            if dark:
                pixels[x + border, y + border] = 0
    return image.resize((size * scale, size * scale), Image.Resampling.NEAREST)


class _LetterPdf(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(auto=False)
        self.set_title("Lettres d'activation Hub ENT")
        self.set_creator("Hub ENT")
        self.set_lang("fr")
        self._wrapped: dict[tuple, list[str]] = {}

    def paragraph(
        self,
        text: str,
        *,
        width: float,
        height: float,
        size: float = 11,
        bold: bool = False,
        color=TEXT,
        x: float | None = None,
    ) -> None:
        """Write ``text`` left-aligned in lines of ``width`` mm from ``x``.

        Line breaks are computed once per text, style and width (most text
        is the same on every page): fpdf2's line breaking is most of the
        time a page takes.
        """
        style = "B" if bold else ""
        self.set_font(FONT, style, size)
        self.set_text_color(*color)
        key = (text, style, size, width)
        lines = self._wrapped.get(key)
        if lines is None:
            lines = cast(  # output="LINES": the lines
                "list[str]",
                self.multi_cell(
                    width, height, text, align="L", dry_run=True, output="LINES"
                ),
            )
            self._wrapped[key] = lines
        left = self.l_margin if x is None else x
        for line in lines:
            self.set_x(left)
            self.cell(width, height, line, new_x="LMARGIN", new_y="NEXT")

    def write_line(
        self, text: str, *, size: float = 11, bold: bool = False, color=TEXT, gap=1.5
    ):
        width = self.w - self.l_margin - self.r_margin
        self.paragraph(
            text, width=width, height=size * 0.45, size=size, bold=bold, color=color
        )
        self.ln(gap)


def _page(pdf: _LetterPdf, letter: Letter) -> None:
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.write_line(letter.school, size=16, bold=True, color=BLUE, gap=0.5)
    pdf.write_line("Hub ENT · espace numérique de l'établissement", color=GREY, gap=8)
    with translation.override("fr"):  # the letter is in French
        addressee = of_name(letter.name)
    pdf.write_line(f"À l'attention {addressee}", size=13, bold=True, gap=4)
    if letter.role == "guardian":
        pdf.write_line(
            "Votre compte Hub ENT vous donne accès, en direct, à l'emploi du "
            "temps, aux absences et aux messages de vos enfants :",
            gap=2,
        )
    elif letter.role == "student":
        pdf.write_line(
            "Votre compte Hub ENT vous donne accès, en direct, à votre emploi "
            "du temps, à vos absences et à vos messages.",
            gap=2,
        )
    else:
        pdf.write_line(
            "Votre compte Hub ENT vous donne accès, en direct, à votre emploi "
            "du temps, à l'appel, aux absences et aux messages de "
            "l'établissement.",
            gap=2,
        )
    if letter.role == "guardian":
        for pupil in letter.children:
            classes = ", ".join(pupil.classes) or "aucune classe pour l'instant"
            pdf.paragraph(
                f"• {pupil.name} : {classes}",
                width=width - 5,
                height=5,
                bold=True,
                x=pdf.l_margin + 5,
            )
            pdf.ln(1)
    elif letter.role == "student" and letter.children:
        classes = ", ".join(letter.children[0].classes)
        if classes:
            pdf.write_line(f"Classe : {classes}", bold=True, gap=1)
    pdf.ln(6)

    # The box with the login, the code and the QR code beside them.
    top = pdf.get_y()
    box_height = 62
    qr_size = 50
    pdf.set_draw_color(*BLUE)
    pdf.set_line_width(0.6)
    pdf.rect(pdf.l_margin, top, width, box_height, round_corners=True)
    pdf.image(
        _qr_image(letter.link),
        x=pdf.l_margin + width - qr_size - 6,
        y=top + (box_height - qr_size) / 2,
        w=qr_size,
        h=qr_size,
    )
    inner = width - qr_size - 18
    left = pdf.l_margin + 6

    def line(height: float, text: str, *, size: float, bold=False, color=TEXT):
        pdf.paragraph(
            text,
            width=inner,
            height=height,
            size=size,
            bold=bold,
            color=color,
            x=left,
        )

    pdf.set_y(top + 7)
    line(6, "Identifiant", size=11, color=GREY)
    line(8, letter.login, size=15, bold=True)
    pdf.set_y(pdf.get_y() + 3)
    line(6, "Code d'activation", size=11, color=GREY)
    pdf.set_char_spacing(1)
    line(10, letter.code, size=20, bold=True, color=BLUE)
    pdf.set_char_spacing(0)
    pdf.set_y(pdf.get_y() + 2)
    line(
        5,
        f"Valable une seule fois, jusqu'au {_french_date(letter.expires_on)}.",
        size=10,
    )
    pdf.set_xy(pdf.l_margin, top + box_height + 8)

    pdf.write_line("Pour activer votre compte", size=13, bold=True, gap=2)
    steps = [
        "Scannez le QR code avec votre téléphone, ou allez sur "
        f"{letter.site}{letter.path}",
        "Saisissez votre identifiant et le code d'activation (le QR code les "
        "remplit pour vous).",
        "Choisissez votre mot de passe et confirmez votre adresse e-mail : "
        "elle servira si vous l'oubliez.",
    ]
    for number, step in enumerate(steps, 1):
        pdf.set_font(FONT, "B", 11)
        pdf.set_text_color(*BLUE)
        pdf.cell(8, 5.5, f"{number}.")
        pdf.paragraph(step, width=width - 8, height=5.5, x=pdf.l_margin + 8)
        pdf.ln(2)
    pdf.ln(4)
    pdf.write_line(
        "Gardez ce code pour vous : il ouvre votre compte. Si vous avez perdu "
        "cette lettre ou si le code a expiré, demandez-en une nouvelle à "
        "l'établissement.",
        size=10,
        color=GREY,
    )


def render_letters(letters: list[Letter]) -> bytes:
    """Return the PDF of ``letters``, one page each, in the given order."""
    pdf = _LetterPdf()
    for letter in letters:
        _page(pdf, letter)
    return bytes(pdf.output())
