"""Fixtures of the documents tests: a subject and its teachers, small real files.

Added to ``tests.conftest.build_school``: 4e B and 3e A follow the course
"Histoire-géo"; Bruno Roux teaches it in 3e A (he shares the course's
space with Alice, who teaches 4e B); Carla Vidal teaches German to the group
"4e B Allemand" (Léa in it): another subject, not 4e B's teacher.
"""

import io
import zipfile
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from fpdf import FPDF

from core.documents import access
from core.roster.models import Course, Enrollment, SchoolClass, User
from tests.conftest import School, build_school, make_user
from tests.delivery.conftest import smtp_server  # noqa: F401 (fixture)


def pdf_bytes(text: str = "Cours") -> bytes:
    """A small real PDF (fpdf2)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def zip_bytes(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = zip_bytes(
    {
        "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
        "word/document.xml": "<w:document/>",
    }
)
ODT = zip_bytes(
    {"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<x/>"}
)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
# A Windows executable's header (MZ ... PE), what a renamed .exe starts with.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def upload(name: str, data: bytes, content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, data, content_type=content_type)


@dataclass
class World:
    school: School
    course: Course
    german: SchoolClass
    bruno: User
    carla: User


@pytest.fixture
def world(db, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path
    school = build_school()
    course = Course.objects.create(org=school.org, title="Histoire-géo")
    for school_class in (school.class_4b, school.class_3a):
        school_class.course = course
        school_class.save()
    bruno = make_user("bruno", User.Role.TEACHER, "Bruno", "Roux")
    bruno.orgs.add(school.org)
    Enrollment.objects.create(user=bruno, school_class=school.class_3a, role="teacher")
    carla = make_user("carla", User.Role.TEACHER, "Carla", "Vidal")
    carla.orgs.add(school.org)
    german_course = Course.objects.create(org=school.org, title="Allemand")
    german = SchoolClass.objects.create(
        org=school.org,
        session=school.session,
        title="4e B Allemand",
        class_type=SchoolClass.Type.SCHEDULED,
        course=german_course,
    )
    Enrollment.objects.create(user=carla, school_class=german, role="teacher")
    Enrollment.objects.create(user=school.pupil, school_class=german, role="student")
    return World(school, course, german, bruno, carla)


def class_space(world: World, user=None) -> access.Space:
    """4e B's space as Alice (or ``user``) sees it."""
    return access.get_space(
        user or world.school.teacher, access.CLASS, world.school.class_4b.pk
    )
