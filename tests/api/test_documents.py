"""``/api/v1/documents`` over two schools and a family with a child in each."""

from types import SimpleNamespace

import pytest

from core.documents import access, actions
from core.roster.models import Enrollment, GuardianLink
from tests.api.calls import api, get
from tests.messaging.helpers import PDF, upload

SPACES = "/api/v1/documents/spaces"


@pytest.fixture
def docs(world, settings, tmp_path):
    """A file of each class shown to guardians; a folder of 4e B hidden
    from them holding a correction, and a course sheet in it."""
    settings.MEDIA_ROOT = tmp_path
    s = world.school
    d = SimpleNamespace()
    for key, teacher, school_class in [
        ("A", s.teacher, s.class_4b),
        ("B", s.outsider, s.other_class),
    ]:
        space = access.get_space(teacher, "class", school_class.pk)
        item = actions.add_file(
            space=space, actor=teacher, upload=upload(f"cours-{key}.pdf", PDF)
        )
        setattr(d, f"item{key}", item)
        setattr(d, f"ver{key}", item.versions.get())
    space = access.get_space(s.teacher, "class", s.class_4b.pk)
    d.folder = actions.create_folder(
        space=space, actor=s.teacher, name="Corrigés", guardians_may_see=False
    )
    d.hidden = actions.add_file(
        space=space, actor=s.teacher, upload=upload("corrige.pdf"), folder=d.folder
    )
    return d


def spaces(user) -> set[tuple[str, int]]:
    status, body = get(user, SPACES)
    assert status == 200
    return {(row["kind"], row["id"]) for row in body["spaces"]}


def content(user, school_class, **params):
    return get(user, f"{SPACES}/class/{school_class.pk}", **params)


def file_url(version) -> str:
    return f"/api/v1/documents/versions/{version.pk}/file"


def test_each_person_opens_exactly_their_spaces(world, docs):
    s = world.school
    a, b = ("class", s.class_4b.pk), ("class", s.other_class.pk)
    assert spaces(s.parent) == {a, b}
    assert spaces(s.pupil) == {a}
    assert spaces(s.other_child) == {b}
    assert spaces(s.other_parent) == {a}
    assert spaces(s.teacher) == {a}
    assert spaces(s.outsider) == {b}
    assert spaces(s.cpe) == {a, ("class", s.class_3a.pk)}
    assert spaces(world.berthe) == {b}
    assert spaces(s.pupil3) == {("class", s.class_3a.pk)}


def test_a_folder_lists_what_the_reader_sees(world, docs):
    s = world.school
    status, body = content(s.pupil, s.class_4b)
    assert status == 200
    assert [f["id"] for f in body["folders"]] == [docs.folder.pk]
    assert [i["id"] for i in body["items"]] == [docs.itemA.pk]
    assert body["items"][0]["version_id"] == docs.verA.pk
    _status, body = content(s.pupil, s.class_4b, folder_id=docs.folder.pk)
    assert body["folder"]["name"] == "Corrigés"
    assert [i["id"] for i in body["items"]] == [docs.hidden.pk]
    # Guardians read only what the teacher showed them.
    _status, body = content(s.parent, s.class_4b)
    assert body["folders"] == [] and [i["id"] for i in body["items"]] == [docs.itemA.pk]
    assert body["space"]["guardian_only"] is True
    assert content(s.parent, s.class_4b, folder_id=docs.folder.pk)[0] == 404


@pytest.mark.parametrize(
    "who, key",
    [
        ("other_parent", "other_class"),
        ("pupil", "other_class"),
        ("outsider", "class_4b"),
    ],
)
def test_another_classs_space_is_404(world, docs, who, key):
    s = world.school
    assert content(getattr(s, who), getattr(s, key))[0] == 404


def test_a_space_of_an_unknown_kind_is_422(world, docs):
    status, body = get(world.school.pupil, f"{SPACES}/club/{world.school.class_4b.pk}")
    assert status == 422 and body["error"] == "invalid_request"


def test_a_reader_downloads_the_file_through_the_same_check(world, docs):
    s = world.school
    response = api(s.parent).get(file_url(docs.verB))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    hidden = docs.hidden.versions.get()
    assert api(s.pupil).get(file_url(hidden)).status_code == 200
    for user, version in [
        (s.parent, hidden),
        (s.other_parent, docs.verB),
        (s.pupil, docs.verB),
        (s.outsider, docs.verA),
    ]:
        assert api(user).get(file_url(version)).status_code == 404


def test_a_file_lost_by_the_storage_is_404_file_missing(world, docs):
    docs.verA.file.storage.delete(docs.verA.file.name)
    status, body = get(world.school.pupil, file_url(docs.verA))
    assert status == 404 and body["error"] == "file_missing"


def test_an_ended_link_or_enrollment_ends_the_documents_at_once(world, docs):
    s = world.school
    GuardianLink.objects.filter(guardian=s.parent, student=s.other_child).delete()
    assert spaces(s.parent) == {("class", s.class_4b.pk)}
    assert content(s.parent, s.other_class)[0] == 404
    assert api(s.parent).get(file_url(docs.verB)).status_code == 404
    Enrollment.objects.filter(user=s.pupil, school_class=s.class_4b).delete()
    assert spaces(s.pupil) == set()
    assert api(s.pupil).get(file_url(docs.verA)).status_code == 404
