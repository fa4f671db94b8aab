"""The demo's course documents: real PDFs, a second version, a hidden one."""

from core.documents import access
from core.documents.demo import seed_demo_documents
from core.documents.models import DocumentVersion, Item


def test_the_demo_seeds_real_documents(world):
    school = world.school
    seed_demo_documents(school.teacher, school.class_4b)
    assert Item.objects.filter(school_class=school.class_4b).count() == 3
    versions = DocumentVersion.objects.all()
    assert versions.count() == 3
    for version in versions:
        assert version.mime == "application/pdf"
        with version.file.open("rb") as handle:
            assert handle.read(5) == b"%PDF-"
    plan = Item.objects.get(title__startswith="Plan du chapitre")
    assert plan.versions.count() == 2 and plan.folder.name == "Histoire"
    titles = {i.title for i in access.readable_items(school.parent)}
    assert "Corrigé du contrôle" not in titles
    assert "Frise chronologique (Lumni)" in titles
