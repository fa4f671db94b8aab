"""The report card as a PDF (fpdf2): one A4 document per pupil and period.

Header: the school's name and UAI, the pupil, the class, the period and the
school year. A table, one row per subject: the pupil's average /20, the
class's average, lowest and highest (over the class's pupils' subject
averages), the teacher and the teacher's appraisal; then the overall
average, the levels of the "socle commun" components assessed in the
period (four-level scale) and the head teacher's appraisal.

The text is French; DejaVu Sans (shipped in ``core/accounts/fonts`` with its
licence, as for the activation letters) renders every accent, "œ", "’",
"€" (the PDF core fonts are Latin-1 only). fpdf2's table wraps long
appraisals in their cell and breaks pages between rows, repeating the
header row.

Plain data in (:class:`CardData`), bytes out: no query here (that is
:meth:`core.reportcards.generation._ClassFacts.card_data`).
"""

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from fpdf import FPDF
from fpdf.fonts import FontFace

from core.accounts.letters import FONTS
from core.grades.averages import rounded

FONT = "DejaVu"
BLUE = (43, 95, 168)
GREY = (92, 103, 115)
TEXT = (29, 39, 51)
LIGHT = (232, 238, 247)

LEVELS = {
    1: "Maîtrise insuffisante",
    2: "Maîtrise fragile",
    3: "Maîtrise satisfaisante",
    4: "Très bonne maîtrise",
}
NONE = "–"


@dataclass(frozen=True)
class SubjectLine:
    subject: str
    average: Decimal | None
    class_average: Decimal | None
    minimum: Decimal | None
    maximum: Decimal | None
    teacher: str = ""
    appraisal: str = ""


@dataclass(frozen=True)
class SkillLine:
    code: str
    title: str
    level: int


@dataclass(frozen=True)
class CardData:
    school: str
    uai: str
    pupil: str
    class_title: str
    period: str
    year: str
    subjects: list[SubjectLine] = field(default_factory=list)
    overall: Decimal | None = None
    class_overall: Decimal | None = None
    skills: list[SkillLine] = field(default_factory=list)
    head_appraisal: str = ""
    generated_on: dt.date | None = None


def number(value: Decimal | None) -> str:
    """ "12,50" (rounded half up, French decimal comma), or a dash when
    there is none."""
    return NONE if value is None else str(rounded(value)).replace(".", ",")


def clean(text: str) -> str:
    """Keep line breaks and printable characters (no control characters)."""
    text = unicodedata.normalize("NFC", text or "").replace("\r\n", "\n")
    return "".join(ch for ch in text if ch == "\n" or ch.isprintable()).strip()


class _CardPdf(FPDF):
    def __init__(self, data: CardData) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.data = data
        self.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title(f"Bulletin {data.period} – {data.pupil}")
        self.set_creator("Hub ENT")
        self.set_lang("fr")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(*GREY)
        self.cell(
            0,
            5,
            f"{self.data.pupil} · {self.data.period} · page {self.page_no()}/{{nb}}",
            align="R",
        )

    def line_of_text(self, text: str, *, size=10, bold=False, color=TEXT, gap=1.0):
        self.set_font(FONT, "B" if bold else "", size)
        self.set_text_color(*color)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(gap)

    def heading(self, text: str) -> None:
        self.ln(3)
        self.line_of_text(text, size=12, bold=True, color=BLUE, gap=1.5)


def build(data: CardData) -> bytes:
    """Return the PDF of one report card."""
    pdf = _CardPdf(data)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.line_of_text(clean(data.school), size=15, bold=True, color=BLUE, gap=0.5)
    pdf.line_of_text(f"UAI {data.uai}", size=9, color=GREY, gap=4)
    pdf.line_of_text(
        f"Bulletin {clean(data.period)} · année {clean(data.year)}",
        size=13,
        bold=True,
        gap=1,
    )
    pdf.line_of_text(
        f"Élève : {clean(data.pupil)} · Classe : {clean(data.class_title)}",
        size=11,
        gap=4,
    )

    pdf.set_draw_color(*GREY)
    pdf.set_line_width(0.2)
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*TEXT)
    headings = FontFace(emphasis="BOLD", fill_color=LIGHT, color=TEXT)
    with pdf.table(
        col_widths=(40, 15, 15, 12, 12, 86),
        text_align=("LEFT", "CENTER", "CENTER", "CENTER", "CENTER", "LEFT"),
        headings_style=headings,
        line_height=4.2,
        padding=1.2,
        repeat_headings=1,
    ) as table:
        table.row(
            [
                "Discipline",
                "Moy. élève",
                "Moy. classe",
                "Min.",
                "Max.",
                "Appréciation",
            ]
        )
        for line in data.subjects:
            subject = clean(line.subject)
            if line.teacher:
                subject = f"{subject}\n{clean(line.teacher)}"
            table.row(
                [
                    subject,
                    number(line.average),
                    number(line.class_average),
                    number(line.minimum),
                    number(line.maximum),
                    clean(line.appraisal),
                ]
            )
        if not data.subjects:
            table.row(["Aucune évaluation sur la période.", "", "", "", "", ""])

    pdf.ln(3)
    overall = f"Moyenne générale : {number(data.overall)}"
    if data.class_overall is not None:
        overall += f" · moyenne générale de la classe : {number(data.class_overall)}"
    pdf.line_of_text(overall, size=11, bold=True, gap=2)

    if data.skills:
        pdf.heading("Compétences du socle commun")
        pdf.set_font(FONT, "", 9)
        with pdf.table(
            col_widths=(15, 120, 45),
            text_align=("LEFT", "LEFT", "LEFT"),
            headings_style=headings,
            line_height=4.2,
            padding=1.2,
            repeat_headings=1,
        ) as table:
            table.row(["Code", "Composante", "Positionnement"])
            for skill in data.skills:
                table.row(
                    [
                        clean(skill.code),
                        clean(skill.title),
                        LEVELS.get(skill.level, NONE),
                    ]
                )

    pdf.heading("Appréciation générale du conseil de classe")
    pdf.line_of_text(clean(data.head_appraisal) or NONE, size=10, gap=3)
    if data.generated_on:
        pdf.line_of_text(
            f"Édité le {data.generated_on:%d/%m/%Y}.", size=8, color=GREY, gap=0
        )
    return bytes(pdf.output())
