"""Files of course documents: versions, quotas, limits, and bad files.

A bad file gets a clear error and nothing is written: no item, no version,
no stored file.
"""

import html

import pytest
from django.test import Client

from core.documents import actions
from core.documents.models import DocumentVersion, Item
from core.files import RandomName
from tests.conftest import login_verified
from tests.documents.conftest import (
    DOCX,
    EXE,
    ODT,
    PNG,
    class_space,
    pdf_bytes,
    upload,
    zip_bytes,
)


def _stored(tmp_path) -> list:
    root = tmp_path / "documents"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def teacher_client(world):
    return login_verified(Client(), world.school.teacher)


def _add_url(world) -> str:
    return f"/documents/class/{world.school.class_4b.pk}/add/"


def test_a_new_upload_keeps_the_old_version(world, teacher_client, tmp_path):
    space = class_space(world)
    teacher = world.school.teacher
    item = actions.add_file(
        space=space, actor=teacher, upload=upload("cours.pdf", pdf_bytes("v1"))
    )
    first = item.versions.get()
    actions.add_version(
        item=item, space=space, actor=teacher, upload=upload("cours-v2.png", PNG)
    )
    versions = list(item.versions.all())
    assert [v.name for v in versions] == ["cours-v2.png", "cours.pdf"]
    assert versions[1].pk == first.pk
    assert len(_stored(tmp_path)) == 2
    # Each version downloads under its own type, through the access check.
    old = teacher_client.get(f"/documents/files/{first.pk}/")
    assert old["Content-Type"] == "application/pdf"
    assert b"".join(old.streaming_content) == first.file.open("rb").read()
    assert 'attachment; filename="cours.pdf"' == old["Content-Disposition"]
    assert old["X-Content-Type-Options"] == "nosniff"
    new = teacher_client.get(f"/documents/files/{versions[0].pk}/")
    assert new["Content-Type"] == "image/png"
    assert b"".join(new.streaming_content) == PNG
    page = teacher_client.get(f"/documents/class/{world.school.class_4b.pk}/")
    text = page.content.decode()
    assert "2 versions" in text
    assert f"/documents/files/{first.pk}/" in text


def test_deleting_an_item_removes_every_version_file(
    world, tmp_path, django_capture_on_commit_callbacks
):
    space = class_space(world)
    teacher = world.school.teacher
    item = actions.add_file(
        space=space, actor=teacher, upload=upload("a.pdf", pdf_bytes())
    )
    actions.add_version(
        item=item, space=space, actor=teacher, upload=upload("b.pdf", pdf_bytes("b"))
    )
    assert len(_stored(tmp_path)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        actions.delete_item(item=item, space=space, actor=teacher)
    assert not DocumentVersion.objects.exists()
    assert _stored(tmp_path) == []


def test_the_quota_counts_every_version_the_teacher_uploaded(
    world, settings, teacher_client, tmp_path
):
    data = pdf_bytes("quota")
    settings.DOCUMENTS_QUOTA_BYTES = 2 * len(data) + 10
    space = class_space(world)
    teacher = world.school.teacher
    item = actions.add_file(space=space, actor=teacher, upload=upload("a.pdf", data))
    actions.add_version(
        item=item, space=space, actor=teacher, upload=upload("b.pdf", data)
    )
    assert actions.used_bytes(teacher) == 2 * len(data)
    with pytest.raises(actions.DocumentError, match="plein"):
        actions.add_version(
            item=item, space=space, actor=teacher, upload=upload("c.pdf", data)
        )
    response = teacher_client.post(
        _add_url(world), {"kind": "file", "file": upload("d.pdf", data)}, follow=True
    )
    assert "est plein" in response.content.decode()
    assert Item.objects.count() == 1
    assert item.versions.count() == 2
    assert len(_stored(tmp_path)) == 2
    # Another teacher's uploads do not count against Alice's, and deleting
    # frees her space.
    actions.delete_item(item=item, space=space, actor=teacher)
    assert actions.used_bytes(teacher) == 0
    actions.add_file(space=space, actor=teacher, upload=upload("e.pdf", data))


def test_the_page_shows_the_teacher_their_quota(world, settings, teacher_client):
    settings.DOCUMENTS_QUOTA_BYTES = 10 * 1024 * 1024
    actions.add_file(
        space=class_space(world),
        actor=world.school.teacher,
        upload=upload("a.pdf", b"%PDF-1.4\n" + b"0" * (1024 * 1024)),
    )
    text = teacher_client.get(
        f"/documents/class/{world.school.class_4b.pk}/"
    ).content.decode()
    assert 'id="quota"' in text
    assert "1,0\xa0Mio" in text and "10,0\xa0Mio" in text
    pupil = login_verified(Client(), world.school.pupil)
    text = pupil.get(f"/documents/class/{world.school.class_4b.pk}/").content.decode()
    assert 'id="quota"' not in text and 'id="add-form"' not in text


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("vide.pdf", b"", "est vide"),
        ("programme.pdf", EXE, "pas d'un type accepté"),  # a disguised executable
        ("script.pdf", b"#!/bin/sh\nrm -rf /\n", "pas d'un type accepté"),
        ("page.pdf", b"<html><script>alert(1)</script></html>", "pas d'un type"),
        ("archive.docx", zip_bytes({"a.txt": "x"}), "pas d'un type accepté"),
        ("notes.txt", b"Texte brut", "pas d'un type accepté"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_written(
    world, teacher_client, tmp_path, name, data, message
):
    response = teacher_client.post(
        _add_url(world),
        {"kind": "file", "title": "Essai", "file": upload(name, data)},
        follow=True,
    )
    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert not Item.objects.exists()
    assert _stored(tmp_path) == []


def test_a_file_over_the_size_limit_is_refused(
    world, settings, teacher_client, tmp_path
):
    settings.DOCUMENTS_MAX_FILE_BYTES = 1000
    data = b"%PDF-1.4\n" + b"0" * 1000
    response = teacher_client.post(
        _add_url(world), {"kind": "file", "file": upload("gros.pdf", data)}, follow=True
    )
    assert "dépasse" in response.content.decode()
    assert not Item.objects.exists()
    assert _stored(tmp_path) == []


def test_the_upload_endpoint_takes_big_bodies_from_teachers_only(world, settings):
    from core.body_limits import limit_for

    settings.DOCUMENTS_MAX_FILE_BYTES = 50 * 1024 * 1024
    url = _add_url(world)
    assert limit_for(world.school.teacher, url) > 50 * 1024 * 1024
    assert limit_for(None, url) > 50 * 1024 * 1024
    for user in (world.school.pupil, world.school.parent, world.school.cpe):
        assert limit_for(user, url) == settings.HTTP_MAX_BODY_BYTES


def test_a_new_version_is_checked_as_the_first(world, teacher_client, tmp_path):
    item = actions.add_file(
        space=class_space(world),
        actor=world.school.teacher,
        upload=upload("a.pdf", pdf_bytes()),
    )
    response = teacher_client.post(
        f"/documents/items/{item.pk}/versions/",
        {"file": upload("a.pdf", EXE)},
        follow=True,
    )
    assert "pas d'un type accepté" in html.unescape(response.content.decode())
    assert item.versions.count() == 1
    assert len(_stored(tmp_path)) == 1


@pytest.mark.parametrize(
    "data,mime",
    [
        (
            DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (ODT, "application/vnd.oasis.opendocument.text"),
        (PNG, "image/png"),
    ],
)
def test_office_documents_and_images_are_told_by_their_content(world, data, mime):
    # Sent under a misleading name: the type comes from the bytes.
    item = actions.add_file(
        space=class_space(world),
        actor=world.school.teacher,
        upload=upload("document.pdf", data),
    )
    assert item.versions.get().mime == mime


@pytest.mark.parametrize(
    "sent,shown",
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\windows\\cours.pdf", "cours.pdf"),
        ("/var/www/\x00evil\x1b.pdf", "evil.pdf"),
        ("\x1b\x07", "fichier"),
    ],
)
def test_path_tricks_in_names_go_nowhere(world, teacher_client, tmp_path, sent, shown):
    item = actions.add_file(
        space=class_space(world),
        actor=world.school.teacher,
        upload=upload(sent, pdf_bytes()),
    )
    version = item.versions.get()
    assert version.name == shown
    # Stored under a random name inside the documents folder, whatever was sent.
    (stored,) = _stored(tmp_path)
    assert stored.is_relative_to(tmp_path / "documents")
    assert len(stored.name) == 32 and "." not in stored.name
    assert RandomName("documents") == DocumentVersion._meta.get_field("file").upload_to
    response = teacher_client.get(f"/documents/files/{version.pk}/")
    disposition = response["Content-Disposition"]
    assert (
        "/" not in disposition and "\\" not in disposition and ".." not in disposition
    )


def test_links_are_http_urls_only_and_open_safely(world, teacher_client):
    for bad in ["javascript:alert(1)", "ftp://example.org/x", "data:text/html,x", ""]:
        response = teacher_client.post(
            _add_url(world), {"kind": "link", "url": bad}, follow=True
        )
        assert "adresse web" in response.content.decode(), bad
    assert not Item.objects.exists()
    teacher_client.post(
        _add_url(world),
        {"kind": "link", "url": "https://fr.wikipedia.org/wiki/Verdun", "title": ""},
    )
    item = Item.objects.get()
    assert item.title == "fr.wikipedia.org"
    page = teacher_client.get(f"/documents/class/{world.school.class_4b.pk}/")
    assert (
        '<a href="https://fr.wikipedia.org/wiki/Verdun" rel="noopener noreferrer"'
        in page.content.decode()
    )


def test_titles_are_escaped(world, teacher_client):
    actions.add_link(
        space=class_space(world),
        actor=world.school.teacher,
        url="https://example.org/",
        title="<script>alert(1)</script>",
    )
    text = teacher_client.get(
        f"/documents/class/{world.school.class_4b.pk}/"
    ).content.decode()
    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_every_write_is_audited(world):
    from core.audit.models import AuditEntry

    space = class_space(world)
    teacher = world.school.teacher
    folder = actions.create_folder(space=space, actor=teacher, name="Cours")
    item = actions.add_file(
        space=space, actor=teacher, upload=upload("a.pdf", pdf_bytes()), folder=folder
    )
    actions.add_version(
        item=item, space=space, actor=teacher, upload=upload("a.pdf", pdf_bytes("2"))
    )
    link = actions.add_link(space=space, actor=teacher, url="https://example.org/")
    actions.delete_item(item=item, space=space, actor=teacher)
    actions.delete_item(item=link, space=space, actor=teacher)
    actions.delete_folder(folder=folder, space=space, actor=teacher)
    actions_logged = list(
        AuditEntry.objects.filter(action__startswith="documents.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions_logged == [
        "documents.folder_created",
        "documents.item_added",
        "documents.version_added",
        "documents.item_added",
        "documents.item_deleted",
        "documents.item_deleted",
        "documents.folder_deleted",
    ]
    assert set(
        AuditEntry.objects.filter(action__startswith="documents.").values_list(
            "org_id", flat=True
        )
    ) == {world.school.org.pk}


def test_a_form_without_its_file_or_name_says_so(world, teacher_client):
    response = teacher_client.post(
        _add_url(world), {"kind": "file", "title": "Sans fichier"}, follow=True
    )
    assert "Choisissez un fichier." in response.content.decode()
    folder_url = f"/documents/class/{world.school.class_4b.pk}/folders/"
    response = teacher_client.post(folder_url, {"name": "   "}, follow=True)
    assert "Donnez un nom au dossier." in response.content.decode()
    assert not Item.objects.exists()
    for bad in ("abc", "-3", "999999"):
        response = teacher_client.post(
            _add_url(world),
            {"kind": "link", "url": "https://example.org/", "folder": bad},
        )
        # A malformed folder is the top; a folder that is not there, 404.
        assert response.status_code == (404 if bad == "999999" else 302), bad


def test_a_file_missing_from_storage_is_a_clear_404_and_logged(
    world, teacher_client, caplog
):
    space = class_space(world)
    item = actions.add_file(
        space=space,
        actor=world.school.teacher,
        upload=upload("perdu.pdf", pdf_bytes("perdu")),
        title="Fiche perdue",
    )
    version = item.versions.get()
    version.file.storage.delete(version.file.name)
    with caplog.at_level("ERROR", logger="core.documents.views"):
        response = teacher_client.get(f"/documents/files/{version.pk}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Fichier indisponible" in page
    assert "Fiche perdue" in page
    assert version.file.name in caplog.text


def test_an_upload_refused_by_the_quota_leaves_no_stored_file(
    world, settings, tmp_path
):
    data = pdf_bytes("quota")
    settings.DOCUMENTS_QUOTA_BYTES = len(data) + 10
    space = class_space(world)
    teacher = world.school.teacher
    item = actions.add_file(space=space, actor=teacher, upload=upload("a.pdf", data))
    assert len(_stored(tmp_path)) == 1
    with pytest.raises(actions.DocumentError, match="plein"):
        actions.add_file(space=space, actor=teacher, upload=upload("b.pdf", data))
    with pytest.raises(actions.DocumentError, match="plein"):
        actions.add_version(
            item=item, space=space, actor=teacher, upload=upload("c.pdf", data)
        )
    assert len(_stored(tmp_path)) == 1
    assert Item.objects.count() == 1
    assert DocumentVersion.objects.count() == 1


def test_a_version_of_an_item_deleted_meanwhile_leaves_no_stored_file(world, tmp_path):
    """The page read the item, then a colleague deleted it before the new
    version was inserted: a clear error, and the file just stored goes."""
    space = class_space(world)
    teacher = world.school.teacher
    item = actions.add_file(
        space=space, actor=teacher, upload=upload("a.pdf", pdf_bytes("a"))
    )
    before = _stored(tmp_path)
    Item.objects.filter(pk=item.pk).delete()  # ``item`` is now stale
    with pytest.raises(actions.DocumentError, match="supprimé"):
        actions.add_version(
            item=item,
            space=space,
            actor=teacher,
            upload=upload("b.pdf", pdf_bytes("b")),
        )
    assert _stored(tmp_path) == before
    assert not DocumentVersion.objects.exists()
