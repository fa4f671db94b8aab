"""Course documents of the demo school (``core/demo/school.py`` calls
:func:`seed_demo_documents` once the classes exist).

Small real files, made here: two PDFs (fpdf2) and a link, in 4e B's space,
one of them hidden from guardians, and a second version of the first.
"""

from django.core.files.uploadedfile import SimpleUploadedFile
from fpdf import FPDF

from core.documents import access, actions
from core.roster.models import SchoolClass, User


def _pdf(title: str, lines: list[str]) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", style="B", size=16)
    pdf.cell(text=title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=12)
    for line in lines:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _file(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def seed_demo_documents(teacher: User, school_class: SchoolClass) -> None:
    """Give ``school_class`` a folder, files (one with two versions) and a link,
    added by ``teacher`` (who teaches it)."""
    space = access.get_space(teacher, access.CLASS, school_class.pk)
    folder = actions.create_folder(space=space, actor=teacher, name="Histoire")
    plan = actions.add_file(
        space=space,
        actor=teacher,
        folder=folder,
        title="Plan du chapitre : la Révolution française",
        upload=_file(
            "plan-revolution.pdf",
            _pdf("La Révolution française", ["1. 1789", "2. La République"]),
        ),
    )
    actions.add_version(
        item=plan,
        space=space,
        actor=teacher,
        upload=_file(
            "plan-revolution-v2.pdf",
            _pdf(
                "La Révolution française",
                ["1. 1789", "2. La République", "3. L'Empire"],
            ),
        ),
    )
    actions.add_file(
        space=space,
        actor=teacher,
        title="Corrigé du contrôle",
        guardians_may_see=False,
        upload=_file("corrige.pdf", _pdf("Corrigé", ["Exercice 1 : ..."])),
    )
    actions.add_link(
        space=space,
        actor=teacher,
        title="Frise chronologique (Lumni)",
        url="https://www.lumni.fr/",
    )
