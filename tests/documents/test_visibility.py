"""A teacher shows an item to guardians or hides it from them afterwards.

Only guardians are told (on their ``user:`` streams): hiding sends the
non-notifying ``documents.removed``, showing sends ``documents.item`` op
``added``; pupils and teachers keep the item and hear nothing.
"""

import pytest
from django.test import Client

from core.audit.models import AuditEntry
from core.documents import access, actions
from core.documents.models import Item
from hub.delivery.models import Notification
from hub.delivery.planning import plan_event
from hub.models import Event
from hub.streams import user_stream
from tests.conftest import capture_events, login_verified
from tests.documents.conftest import class_space, pdf_bytes, upload


def _client(user, **kwargs) -> Client:
    return login_verified(Client(**kwargs), user)


def _url(item: Item) -> str:
    return f"/documents/items/{item.pk}/visibility/"


@pytest.fixture
def item(world) -> Item:
    return actions.add_file(
        space=class_space(world),
        actor=world.school.teacher,
        upload=upload("carte.pdf", pdf_bytes()),
        title="Carte de l'Europe",
        guardians_may_see=True,
    )


def _guardian_streams(world) -> set[str]:
    """Karim (Léa's father) and Sophie (Hugo's mother): 4e B's guardians."""
    return {
        user_stream(world.school.parent.pk),
        user_stream(world.school.other_parent.pk),
    }


def _readable(user) -> set[int]:
    return set(access.readable_items(user).values_list("pk", flat=True))


def test_hiding_drops_the_item_for_guardians_only_without_notice(world, item):
    school = world.school
    with capture_events() as events:
        response = _client(school.teacher).post(_url(item), {"visible": "0"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert not item.guardians_may_see
    assert {e.stream for e in events} == _guardian_streams(world)
    assert {(e.kind, e.op) for e in events} == {("documents.removed", "removed")}
    assert events[0].data["item"]["id"] == item.pk
    assert _readable(school.parent) == set()
    assert item.pk in _readable(school.pupil)
    assert item.pk in _readable(school.teacher)
    # The removal notifies no one.
    for envelope in events:
        event = Event.objects.get(stream__name=envelope.stream, offset=envelope.offset)
        assert plan_event(event.pk)["notifications"] == 0
    entry = AuditEntry.objects.filter(action="documents.item_visibility").get()
    assert entry.actor_id == school.teacher.pk
    assert entry.target_id == item.pk
    assert entry.detail["guardians_may_see"] is False


def test_showing_adds_it_for_guardians_and_notifies_only_them(world):
    school = world.school
    hidden = actions.add_link(
        space=class_space(world),
        actor=school.teacher,
        url="https://example.org/corrige",
        title="Corrigé",
        guardians_may_see=False,
    )
    assert _readable(school.parent) == set()
    Notification.objects.all().delete()
    with capture_events() as events:
        changed = actions.set_guardian_visibility(
            item=hidden, space=class_space(world), actor=school.teacher, visible=True
        )
    assert changed
    assert _readable(school.parent) == {hidden.pk}
    assert {e.stream for e in events} == _guardian_streams(world)
    assert {(e.kind, e.op) for e in events} == {("documents.item", "added")}
    assert events[0].data["item"]["guardians_may_see"] is True
    for envelope in events:
        event = Event.objects.get(stream__name=envelope.stream, offset=envelope.offset)
        plan_event(event.pk)
    told = set(Notification.objects.values_list("user_id", flat=True))
    assert told == {school.parent.pk, school.other_parent.pk}
    karim = Notification.objects.get(user=school.parent)
    assert karim.title == "Nouveau document en Histoire-géo (4e B) : Corrigé"


def test_no_change_writes_nothing_and_emits_nothing(world, item):
    with capture_events() as events:
        changed = actions.set_guardian_visibility(
            item=item,
            space=class_space(world),
            actor=world.school.teacher,
            visible=True,
        )
    assert not changed
    assert events == []
    assert not AuditEntry.objects.filter(action="documents.item_visibility").exists()


def test_an_item_of_a_hidden_folder_cannot_be_shown(world):
    school = world.school
    space = class_space(world)
    folder = actions.create_folder(
        space=space, actor=school.teacher, name="Corrigés", guardians_may_see=False
    )
    inside = actions.add_link(
        space=space,
        actor=school.teacher,
        url="https://example.org/c",
        folder=folder,
    )
    assert not inside.guardians_may_see
    client = _client(school.teacher)
    with capture_events() as events:
        response = client.post(_url(inside), {"visible": "1"}, follow=True)
    assert events == []
    inside.refresh_from_db()
    assert not inside.guardians_may_see
    assert "dossier masqué aux parents" in response.content.decode()
    assert _readable(school.parent) == set()


def test_a_course_item_has_no_guardians_to_show_it_to(world):
    space = access.get_space(world.school.teacher, access.COURSE, world.course.pk)
    shared = actions.add_link(
        space=space, actor=world.school.teacher, url="https://example.org/p"
    )
    with pytest.raises(actions.DocumentError):
        actions.set_guardian_visibility(
            item=shared, space=space, actor=world.school.teacher, visible=False
        )


def test_only_the_class_teachers_toggle(world, item):
    school = world.school
    # Bruno teaches the same subject in 3e A; Carla teaches Léa German;
    # Oscar teaches in the other school; Léa is a pupil of the class.
    for user in (
        world.bruno,
        world.carla,
        school.outsider,
        school.pupil,
        school.parent,
        school.cpe,
    ):
        assert _client(user).post(_url(item), {"visible": "0"}).status_code == 404
    assert _client(school.teacher).get(_url(item)).status_code == 405
    assert (
        _client(school.teacher).post("/documents/items/999999/visibility/").status_code
        == 404
    )
    item.refresh_from_db()
    assert item.guardians_may_see


def test_the_toggle_needs_the_csrf_token(world, item):
    client = _client(world.school.teacher, enforce_csrf_checks=True)
    assert client.post(_url(item), {"visible": "0"}).status_code == 403
    item.refresh_from_db()
    assert item.guardians_may_see


def test_the_space_page_offers_the_toggle_to_teachers_only(world, item):
    school = world.school
    page = f"/documents/class/{school.class_4b.pk}/"
    html = _client(school.teacher).get(page).content.decode()
    assert _url(item) in html
    assert "Masquer aux parents" in html
    actions.set_guardian_visibility(
        item=item, space=class_space(world), actor=school.teacher, visible=False
    )
    html = _client(school.teacher).get(page).content.decode()
    assert "Rendre visible des parents" in html
    assert _url(item) not in _client(school.pupil).get(page).content.decode()
