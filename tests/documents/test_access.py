"""Who reads and who writes course documents: the roster decides.

Léa (4e B, and the German group), Hugo (4e B), Chloé (3e A); Karim is Léa's
father, Sophie Hugo's mother; Alice teaches 4e B (Histoire-géo), Bruno 3e A
(Histoire-géo), Carla the German group; Oscar teaches in the other school;
Paul is the school-life staff of the school. Every refusal is the same 404.
"""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from core.documents import access, actions
from core.documents.models import Item
from core.roster.models import Enrollment, GuardianLink, User
from tests.conftest import login_verified
from tests.documents.conftest import class_space, pdf_bytes, upload


def _client(user) -> Client:
    return login_verified(Client(), user)


@pytest.fixture
def docs(world):
    """A visible and a hidden file in 4e B, one in the Histoire-géo course."""
    school = world.school
    space = class_space(world)
    visible = actions.add_file(
        space=space,
        actor=school.teacher,
        upload=upload("chapitre1.pdf", pdf_bytes("Chapitre 1")),
        title="Chapitre 1",
        guardians_may_see=True,
    )
    hidden = actions.add_file(
        space=space,
        actor=school.teacher,
        upload=upload("corrige.pdf", pdf_bytes("Corrigé")),
        title="Corrigé du contrôle",
        guardians_may_see=False,
    )
    course_space = access.get_space(school.teacher, access.COURSE, world.course.pk)
    shared = actions.add_file(
        space=course_space,
        actor=school.teacher,
        upload=upload("progression.pdf", pdf_bytes("Progression")),
        title="Progression commune",
    )
    return {"visible": visible, "hidden": hidden, "shared": shared}


def _download(item: Item) -> str:
    return f"/documents/files/{item.versions.get().pk}/"


def _status(user, url) -> int:
    return _client(user).get(url).status_code


def test_the_class_reads_its_documents_and_no_one_else(world, docs):
    school = world.school
    space_url = f"/documents/class/{school.class_4b.pk}/"
    readers = [school.pupil, school.pupil2, school.teacher, school.cpe]
    for user in readers:
        assert _status(user, space_url) == 200, user
        assert _status(user, _download(docs["visible"])) == 200, user
        assert _status(user, _download(docs["hidden"])) == 200, user
    # A pupil of another class, a teacher of another class, of another
    # subject (Carla teaches Léa German), of another school.
    for user in [school.pupil3, world.bruno, world.carla, school.outsider]:
        assert _status(user, space_url) == 404, user
        assert _status(user, _download(docs["visible"])) == 404, user
        assert _status(user, _download(docs["hidden"])) == 404, user


def test_guardians_see_only_what_the_teacher_allowed(world, docs):
    school = world.school
    space_url = f"/documents/class/{school.class_4b.pk}/"
    for parent in (school.parent, school.other_parent):
        page = _client(parent).get(space_url)
        assert page.status_code == 200
        text = page.content.decode()
        assert "Chapitre 1" in text
        assert "Corrigé du contrôle" not in text
        assert _status(parent, _download(docs["visible"])) == 200
        assert _status(parent, _download(docs["hidden"])) == 404
    readable = set(access.readable_items(school.parent))
    assert readable == {docs["visible"]}


def test_a_guardian_whose_link_ended_reads_nothing_more(world, docs):
    school = world.school
    GuardianLink.objects.get(
        guardian=school.other_parent, student=school.pupil2
    ).delete()
    parent = User.objects.get(pk=school.other_parent.pk)
    assert _status(parent, f"/documents/class/{school.class_4b.pk}/") == 404
    assert _status(parent, _download(docs["visible"])) == 404
    assert not access.readable_items(parent).exists()
    # Karim still reads through Léa.
    assert _status(school.parent, _download(docs["visible"])) == 200


def test_a_pupil_who_left_the_class_reads_nothing_more(world, docs):
    school = world.school
    Enrollment.objects.get(user=school.pupil2, school_class=school.class_4b).delete()
    assert _status(school.pupil2, _download(docs["visible"])) == 404
    assert _status(school.other_parent, _download(docs["visible"])) == 404


def test_the_course_space_is_shared_by_the_subjects_teachers_only(world, docs):
    school = world.school
    url = f"/documents/course/{world.course.pk}/"
    for teacher in (school.teacher, world.bruno):
        assert _status(teacher, url) == 200
        assert _status(teacher, _download(docs["shared"])) == 200
    others = [world.carla, school.outsider, school.pupil, school.parent, school.cpe]
    for user in others:
        assert _status(user, url) == 404, user
        assert _status(user, _download(docs["shared"])) == 404, user


def test_only_the_class_teachers_write(world, docs):
    school = world.school
    add_url = f"/documents/class/{school.class_4b.pk}/add/"
    item = docs["visible"]
    for user in [
        school.pupil,
        school.parent,
        school.cpe,
        world.bruno,
        world.carla,
        school.outsider,
    ]:
        client = _client(user)
        sent = client.post(
            add_url, {"kind": "file", "file": upload("x.pdf", pdf_bytes())}
        )
        assert sent.status_code == 404, user
        assert client.post(f"/documents/items/{item.pk}/delete/").status_code == 404
        assert (
            client.post(
                f"/documents/items/{item.pk}/versions/",
                {"file": upload("y.pdf", pdf_bytes())},
            ).status_code
            == 404
        )
    assert Item.objects.count() == 3
    assert item.versions.count() == 1
    # Any teacher of the class may replace or delete (not only the uploader).
    colleague = world.bruno
    Enrollment.objects.create(
        user=colleague, school_class=school.class_4b, role="teacher"
    )
    client = _client(colleague)
    assert (
        client.post(
            f"/documents/items/{item.pk}/versions/",
            {"file": upload("v2.pdf", pdf_bytes("v2"))},
        ).status_code
        == 302
    )
    assert item.versions.count() == 2
    assert client.post(f"/documents/items/{item.pk}/delete/").status_code == 302
    assert not Item.objects.filter(pk=item.pk).exists()


def test_a_folder_hidden_from_guardians_hides_what_is_in_it(world):
    school = world.school
    space = class_space(world)
    folder = actions.create_folder(
        space=space, actor=school.teacher, name="Évaluations", guardians_may_see=False
    )
    inner = actions.add_link(
        space=space,
        actor=school.teacher,
        url="https://example.org/quiz",
        folder=folder,
        guardians_may_see=True,
    )
    assert not inner.guardians_may_see
    url = f"/documents/class/{school.class_4b.pk}/?folder={folder.pk}"
    assert _status(school.parent, url) == 404
    assert _status(school.pupil, url) == 200
    page = _client(school.parent).get(f"/documents/class/{school.class_4b.pk}/")
    assert "Évaluations" not in page.content.decode()


def test_ids_that_do_not_exist_or_are_malformed_are_404(world, docs):
    client = _client(world.school.teacher)
    for url in [
        "/documents/class/999999/",
        "/documents/school/1/",
        f"/documents/class/{world.school.class_4b.pk}/?folder=999999",
        "/documents/files/999999/",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.post("/documents/items/999999/delete/").status_code == 404


def test_index_lists_each_persons_spaces(world, docs):
    school = world.school
    text = _client(school.teacher).get("/documents/").content.decode()
    assert "4e B" in text and "Histoire-g" in text
    lea = school.pupil.pk
    text = _client(school.parent).get(f"/documents/?child={lea}").content.decode()
    assert "4e B" in text and "5e C" not in text
    child = school.other_child.pk
    text = _client(school.parent).get(f"/documents/?child={child}").content.decode()
    assert "5e C" in text and "4e B" not in text
    assert _client(school.parent).get("/documents/?child=999").status_code == 404


def test_recent_documents_are_what_the_user_reads_in_constant_queries(
    world, docs, django_assert_max_num_queries
):
    school = world.school
    since = timezone.now() - dt.timedelta(hours=1)
    assert [i.pk for i in access.recent_documents(school.parent, since, 10)] == [
        docs["visible"].pk
    ]
    pupil_items = access.recent_documents(school.pupil, since, 10)
    assert [i.pk for i in pupil_items] == [docs["hidden"].pk, docs["visible"].pk]
    assert pupil_items[0].latest.name == "corrige.pdf"
    teacher_items = access.recent_documents(school.teacher, since, 10)
    assert {i.pk for i in teacher_items} == {d.pk for d in docs.values()}
    assert access.recent_documents(school.teacher, timezone.now(), 10) == []
    for n in range(5):
        actions.add_file(
            space=class_space(world),
            actor=school.teacher,
            upload=upload(f"f{n}.pdf", pdf_bytes(str(n))),
        )
    with django_assert_max_num_queries(2):
        items = access.recent_documents(school.pupil, since, 5)
        assert all(i.latest and i.school_class.title for i in items)
    assert len(items) == 5


def test_staff_read_documents_only_with_the_permission_in_their_school(world, docs):
    """A staff account linked to the school but holding no permission reads
    nothing; the CPE ("Vie scolaire" group) reads their school's classes;
    another school's CPE does not."""
    from core.roster.actions import grant_school_life_staff
    from tests.conftest import make_user

    school = world.school
    space_url = f"/documents/class/{school.class_4b.pk}/"
    bare = make_user("admin2", User.Role.ADMINISTRATOR, "Anne", "Sans-droit")
    bare.orgs.add(school.org)
    other_cpe = make_user("berthe", User.Role.ADMINISTRATOR, "Berthe", "Morel")
    other_cpe.orgs.add(school.other_org)
    grant_school_life_staff(other_cpe)

    assert _status(school.cpe, space_url) == 200
    assert _status(school.cpe, _download(docs["hidden"])) == 200
    for user in (bare, other_cpe):
        assert _status(user, space_url) == 404, user
        assert _status(user, _download(docs["visible"])) == 404, user
        assert not access.readable_items(user).exists(), user
        assert school.org.pk not in {s.org_id for s in access.spaces_of(user)}
    assert access.spaces_of(bare) == []


def test_breadcrumbs_cost_the_same_queries_at_any_depth(world):
    """The space page loads a folder's ancestors at once: as many queries
    five folders deep as one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    school = world.school
    space = class_space(world)
    client = _client(school.teacher)
    parent, chain = None, []
    for depth in range(5):
        parent = actions.create_folder(
            space=space, actor=school.teacher, name=f"Niveau {depth + 1}", parent=parent
        )
        chain.append(parent)

    def count(folder) -> tuple[int, str]:
        url = f"/documents/class/{school.class_4b.pk}/?folder={folder.pk}"
        client.get(url)  # warm the session and caches
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url).content.decode()
        return len(queries), page

    shallow, _ = count(chain[0])
    deep, page = count(chain[-1])
    assert deep == shallow
    positions = [page.index(f"Niveau {n}") for n in range(1, 6)]
    assert positions == sorted(positions)


def test_the_school_life_group_holds_the_documents_permission(db):
    """The migration gives it to the group; a group made again
    (``grant_school_life_staff``) from SCHOOL_LIFE_PERMISSIONS has it too."""
    from django.contrib.auth.models import Group

    from core.roster.access import SCHOOL_LIFE_GROUP, SCHOOL_LIFE_PERMISSIONS
    from core.roster.actions import grant_school_life_staff
    from tests.conftest import make_user

    def held() -> set[str]:
        group = Group.objects.get(name=SCHOOL_LIFE_GROUP)
        return {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }

    assert access.VIEW_PERMISSION in SCHOOL_LIFE_PERMISSIONS
    assert access.VIEW_PERMISSION in held()
    Group.objects.filter(name=SCHOOL_LIFE_GROUP).delete()
    cpe = make_user("nadia", User.Role.ADMINISTRATOR, "Nadia", "Leroy")
    grant_school_life_staff(cpe)
    assert set(SCHOOL_LIFE_PERMISSIONS) <= held()
