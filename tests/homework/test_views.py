"""The pages and endpoints: what each person gets, bad files, the zip."""

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.audit.models import AuditEntry
from core.homework import access, actions, uploads
from core.homework.models import Attachment, DoneMark, HandIn, Homework
from core.roster.actions import grant_school_life_staff
from core.roster.models import GuardianLink, User
from tests.conftest import login_verified, make_user
from tests.homework.conftest import EXE, MONDAY, PDF, PNG, at, pdf, set_maths

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    return login_verified(Client(), user)


def test_the_pupils_notebook_groups_by_due_date(week):
    set_maths(week, title="Pour demain", due_date=MONDAY + dt.timedelta(days=1))
    set_maths(week, title="Pour jeudi", due_date=MONDAY + dt.timedelta(days=3))
    set_maths(week, title="Semaine pro", due_date=MONDAY + dt.timedelta(days=8))
    page = client_for(week.pupil).get("/homework/").content.decode()
    assert page.index("Pour demain") < page.index("Cette semaine")
    assert page.index("Cette semaine") < page.index("Pour jeudi")
    assert page.index("Plus tard") < page.index("Semaine pro")
    assert 'class="hw__tick"' in page
    assert 'href="https://example.org/aide"' in page  # linkified, escaped
    assert f"/homework/class/{week.class_4b.pk}/sessions/" in page


def test_teacher_text_is_escaped(week):
    set_maths(week, text="<script>alert(1)</script>")
    page = client_for(week.pupil).get("/homework/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_a_guardian_reads_each_child_read_only(week):
    hw = set_maths(week, title="Devoir de Léa")
    actions.set_done(homework=hw, student=week.pupil, done=True)
    client = client_for(week.parent)
    page = client.get(f"/homework/?child={week.pupil.pk}").content.decode()
    assert "Devoir de Léa" in page and 'data-done="1"' in page
    assert "hw__tick" not in page
    # Hugo is not his child; Inès (other school) has no homework here.
    assert client.get(f"/homework/?child={week.pupil2.pk}").status_code == 404
    page = client.get(f"/homework/?child={week.other_child.pk}").content.decode()
    assert "Devoir de Léa" not in page
    GuardianLink.objects.filter(guardian=week.parent, student=week.pupil).delete()
    assert client.get(f"/homework/?child={week.pupil.pk}").status_code == 404
    api = client.get(f"/homework/api/items/?child={week.pupil.pk}")
    assert api.status_code == 404


def test_ticking_done_through_json(week):
    hw = set_maths(week)
    client = client_for(week.pupil)
    response = client.post(
        f"/homework/{hw.pk}/done/",
        json.dumps({"done": True}),
        content_type="application/json",
    )
    assert response.json() == {"id": hw.pk, "done": True}
    assert DoneMark.objects.filter(student=week.pupil, homework=hw).exists()
    bad = client.post(
        f"/homework/{hw.pk}/done/", "{not json", content_type="application/json"
    )
    assert bad.status_code == 400
    wrong = client.post(
        f"/homework/{hw.pk}/done/", '{"done": "yes"}', content_type="application/json"
    )
    assert wrong.status_code == 400
    # Another class's pupil, a guardian, a teacher: not found.
    for user in (week.pupil3, week.parent, week.teacher):
        response = client_for(user).post(
            f"/homework/{hw.pk}/done/",
            '{"done": true}',
            content_type="application/json",
        )
        assert response.status_code == 404, user


def test_a_planned_homework_cannot_be_ticked_before_it_is_published(week):
    hw = set_maths(week, publish_at=at(1, 7))
    response = client_for(week.pupil).post(
        f"/homework/{hw.pk}/done/", '{"done": true}', content_type="application/json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "name,data,error",
    [
        ("virus.pdf", EXE, "ni un PDF"),
        ("vide.pdf", b"", "vide"),
        ("archive.zip", b"PK\x03\x04" + b"\x00" * 40, "ni un PDF"),
        ("gros.pdf", PDF + b"0" * uploads.MAX_FILE_BYTES, "10 Mo"),
    ],
)
def test_bad_hand_in_files_are_refused_and_nothing_is_kept(week, name, data, error):
    hw = set_maths(week, handin_required=True)
    client = client_for(week.pupil)
    response = client.post(
        f"/homework/{hw.pk}/hand-in/",
        {"file": SimpleUploadedFile(name, data)},
        follow=True,
    )
    assert error in response.content.decode()
    assert not HandIn.objects.exists()


def test_a_hand_in_then_the_teachers_review_zip_and_return(week):
    hw = set_maths(week, handin_required=True)
    pupil = client_for(week.pupil)
    response = pupil.post(
        f"/homework/{hw.pk}/hand-in/",
        {"file": SimpleUploadedFile("ma copie.pdf", PDF)},
        follow=True,
    )
    assert "Bravo" in response.content.decode()
    client_for(week.pupil2).post(
        f"/homework/{hw.pk}/hand-in/", {"file": SimpleUploadedFile("photo.jpg", PNG)}
    )
    teacher = client_for(week.teacher)
    page = teacher.get(f"/homework/{hw.pk}/handins/").content.decode()
    assert "Dubois Léa" in page and "à l'heure" in page
    archive = teacher.get(f"/homework/{hw.pk}/handins.zip")
    assert archive["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))).namelist()
    assert sorted(names) == ["Dubois Léa - ma_copie.pdf", "Petit Hugo - photo.png"]
    assert AuditEntry.objects.filter(
        action="handins.downloaded", actor_id=week.teacher.pk
    ).exists()
    handin = HandIn.objects.get(student=week.pupil)
    teacher.post(f"/homework/handins/{handin.pk}/return/", {"comment": "Très bien"})
    handin.refresh_from_db()
    assert handin.returned_at and handin.comment == "Très bien"
    page = pupil.get("/homework/").content.decode()
    assert "Très bien" in page
    # The pupil and the guardian download the file; Hugo and Bruno cannot.
    assert pupil.get(f"/homework/handins/{handin.pk}/file/").content == PDF
    assert (
        client_for(week.parent).get(f"/homework/handins/{handin.pk}/file/").status_code
        == 200
    )
    for user in (week.pupil2, week.bruno, week.other_parent, week.outsider):
        assert (
            client_for(user).get(f"/homework/handins/{handin.pk}/file/").status_code
            == 404
        )
        assert client_for(user).get(f"/homework/{hw.pk}/handins.zip").status_code == 404


def test_the_teacher_sets_homework_with_a_file_through_the_form(week):
    client = client_for(week.teacher)
    response = client.post(
        f"/homework/class/{week.class_4b.pk}/",
        {
            "subject": "Mathématiques",
            "title": "Fiche 7",
            "kind": "exercise",
            "text": "",
            "links": "https://example.org/fiche",
            "late_allowed": "on",
            "attachments": [SimpleUploadedFile("fiche.pdf", PDF)],
        },
        follow=True,
    )
    assert "Devoir enregistré" in response.content.decode()
    hw = Homework.objects.get(title="Fiche 7")
    assert hw.links == ["https://example.org/fiche"]
    assert hw.due_date == MONDAY + dt.timedelta(days=2)
    attachment = Attachment.objects.get(homework=hw)
    assert attachment.name == "fiche.pdf"
    assert (
        client_for(week.pupil).get(f"/homework/files/{attachment.pk}/").content == PDF
    )
    assert (
        client_for(week.pupil3).get(f"/homework/files/{attachment.pk}/").status_code
        == 404
    )
    # A bad file: nothing saved.
    response = client.post(
        f"/homework/class/{week.class_4b.pk}/",
        {
            "subject": "Mathématiques",
            "title": "Fiche 8",
            "kind": "exercise",
            "attachments": [SimpleUploadedFile("fiche.pdf", EXE)],
        },
    )
    assert "ni un PDF" in response.content.decode()
    assert not Homework.objects.filter(title="Fiche 8").exists()


def test_class_pages_follow_the_roster(week):
    hw = set_maths(week)
    url = f"/homework/class/{week.class_4b.pk}/"
    assert client_for(week.teacher).get(url).status_code == 200
    page = client_for(week.bruno).get(url).content.decode()  # another subject
    assert "Exercices 3 et 4" in page and f"/homework/{hw.pk}/edit/" not in page
    assert client_for(week.cpe).get(url).status_code == 200
    for user in (week.outsider, week.pupil, week.parent):
        assert client_for(user).get(url).status_code == 404, user
    assert client_for(week.bruno).get(f"/homework/{hw.pk}/edit/").status_code == 404
    assert client_for(week.bruno).post(f"/homework/{hw.pk}/remove/").status_code == 404
    assert client_for(week.cpe).post(url, {"title": "x"}).status_code == 404


def test_the_workload_api_warns_of_two_tests(week):
    wednesday = MONDAY + dt.timedelta(days=2)
    set_maths(week, due_date=wednesday, kind="test")
    set_maths(
        week, teacher=week.bruno, subject="Français", due_date=wednesday, kind="test"
    )
    days = (
        client_for(week.bruno)
        .get(f"/homework/class/{week.class_4b.pk}/workload/?from={wednesday}")
        .json()["days"]
    )
    assert days[0] == {
        "day": "2026-01-21",
        "count": 2,
        "tests": 2,
        "warning": True,
        "subjects": [
            {"subject": "Français", "count": 1},
            {"subject": "Mathématiques", "count": 1},
        ],
    }
    url = f"/homework/class/{week.class_4b.pk}/workload/"
    assert client_for(week.outsider).get(url).status_code == 404


def test_session_contents_are_written_by_the_lessons_teacher(week, clock):
    clock.move_to(at(0, 9, 30))
    client = client_for(week.teacher)
    client.post(
        f"/homework/lesson/{week.maths[0].pk}/content/",
        {"text": "Chapitre 4 : Pythagore"},
    )
    page = (
        client_for(week.pupil)
        .get(f"/homework/class/{week.class_4b.pk}/sessions/")
        .content.decode()
    )
    assert "Chapitre 4 : Pythagore" in page
    response = client_for(week.bruno).post(
        f"/homework/lesson/{week.maths[0].pk}/content/", {"text": "x"}
    )
    assert response.status_code == 404
    assert (
        client_for(week.pupil3)
        .get(f"/homework/class/{week.class_4b.pk}/sessions/")
        .status_code
        == 404
    )


def test_the_teacher_sees_change_and_remove_on_their_homework(week):
    hw = set_maths(week, handin_required=True)
    page = client_for(week.teacher).get(f"/homework/class/{week.class_4b.pk}/")
    text = page.content.decode()
    assert f"/homework/{hw.pk}/edit/" in text
    assert f"/homework/{hw.pk}/remove/" in text
    assert f"/homework/{hw.pk}/handins/" in text


def test_staff_read_the_notebook_only_with_the_permission_in_their_orgs(week):
    """An ADMINISTRATOR linked to the org reads nothing without
    ``homework.view_homework``; the CPE ("Vie scolaire") reads their own
    school; the CPE of another school nothing."""
    set_maths(week, title="Devoir de la classe")
    clerk = make_user("clerk", User.Role.ADMINISTRATOR, "Claire", "Secrétariat")
    clerk.orgs.add(week.org)
    other_cpe = make_user("berthe", User.Role.ADMINISTRATOR, "Berthe", "Morel")
    other_cpe.orgs.add(week.other_org)
    grant_school_life_staff(other_cpe)
    urls = [
        f"/homework/class/{week.class_4b.pk}/",
        f"/homework/class/{week.class_4b.pk}/sessions/",
    ]
    for url in urls:
        assert client_for(week.cpe).get(url).status_code == 200, url
        assert client_for(clerk).get(url).status_code == 404, url
        assert client_for(other_cpe).get(url).status_code == 404, url
    assert "4e B" in client_for(week.cpe).get("/homework/").content.decode()
    assert "4e B" not in client_for(clerk).get("/homework/").content.decode()
    assert "4e B" not in client_for(other_cpe).get("/homework/").content.decode()
    assert not access.visible(clerk).exists()
    assert access.visible(week.cpe).count() == 1


def test_the_class_page_costs_the_same_for_one_homework_or_eleven(
    week, django_assert_max_num_queries
):
    client = client_for(week.teacher)
    url = f"/homework/class/{week.class_4b.pk}/"
    set_maths(week, title="0")
    with django_assert_max_num_queries(100) as one:
        assert client.get(url).status_code == 200
    for n in range(10):
        set_maths(week, title=f"x{n}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get(url).content.decode()
    assert page.count("/edit/") == 11


def test_a_planned_homework_is_not_in_the_workload_of_other_readers(week):
    set_maths(week, title="Contrôle surprise", kind="test", publish_at=at(1, 18))
    url = f"/homework/class/{week.class_4b.pk}/"
    assert "Mathématiques (1)" in client_for(week.teacher).get(url).content.decode()
    for user in (week.bruno, week.cpe):
        page = client_for(user).get(url).content.decode()
        assert "Mathématiques" not in page, user


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "2026-13-01", "hier"])
def test_the_workload_api_refuses_a_bad_or_far_date(week, value):
    client = client_for(week.teacher)
    url = f"/homework/class/{week.class_4b.pk}/workload/"
    response = client.get(url, {"from": value}, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    assert "moins d'un an" in response.json()["error"]
    assert client.get(url).status_code == 200  # no date: today


def test_the_to_review_list_is_logged_like_the_handins_page(week):
    client = client_for(week.teacher)
    client.get("/homework/")
    assert not AuditEntry.objects.filter(action="handins.listed").exists()
    homework = set_maths(week, handin_required=True)
    actions.hand_in(homework=homework, student=week.pupil, upload=pdf())
    assert "Dubois" in client.get("/homework/").content.decode()
    (entry,) = AuditEntry.objects.filter(action="handins.listed")
    assert entry.actor_id == week.teacher.pk and entry.org_id == week.org.pk


def test_an_unreadable_hand_in_is_listed_missing_and_the_zip_still_comes(week):
    hw = set_maths(week, handin_required=True)
    lost = actions.hand_in(homework=hw, student=week.pupil, upload=pdf("copie.pdf"))
    actions.hand_in(homework=hw, student=week.pupil2, upload=pdf("dm.pdf"))
    lost.file.storage.delete(lost.file.name)
    response = client_for(week.teacher).get(f"/homework/{hw.pk}/handins.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == ["MANQUANTS.txt", "Petit Hugo - dm.pdf"]
    listed = archive.read("MANQUANTS.txt").decode()
    assert "Dubois Léa - copie.pdf" in listed and "redemandez" in listed
    entry = AuditEntry.objects.get(action="handins.downloaded")
    assert entry.detail == {"files": 1, "missing": 1}


def test_the_subject_is_chosen_from_the_timetable(week):
    """'maths' is not 'Mathématiques': an enrolled teacher cannot sidestep
    the named-teacher rule with another spelling; a class without a
    timetable takes any subject from its enrolled teachers."""
    page = client_for(week.bruno).get(f"/homework/class/{week.class_4b.pk}/")
    html = page.content.decode()
    assert '<select name="subject"' in html
    assert '<option value="Français"' in html
    assert '<option value="Mathématiques"' not in html
    for subject in ("maths", "Mathématiques"):
        with pytest.raises(actions.HomeworkError):
            set_maths(week, teacher=week.bruno, subject=subject)
        response = client_for(week.bruno).post(
            f"/homework/class/{week.class_4b.pk}/",
            {"subject": subject, "title": "Contourné", "kind": "exercise"},
        )
        assert response.status_code == 200
        assert not Homework.objects.filter(title="Contourné").exists()
    # 5e C has no timetable: Oscar (enrolled) writes any subject.
    assert access.teaches_subject(week.outsider, week.other_class, "Latin")
    html = client_for(week.outsider).get(f"/homework/class/{week.other_class.pk}/")
    assert '<input type="text" name="subject"' in html.content.decode()
