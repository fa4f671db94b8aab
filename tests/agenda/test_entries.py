"""Agenda entries: who they reach (two schools, Karim in both), the rules
of writing them, the events and the pages."""

import datetime as dt

import pytest

from core.agenda import access, actions
from core.agenda.models import AgendaEntry
from core.audit.models import AuditEntry
from core.roster.audience import Audience
from core.roster.models import GuardianLink
from tests.agenda.conftest import add_entry, paris
from tests.conftest import capture_events, login_verified

pytestmark = pytest.mark.django_db


def user_streams(envelopes, kind="agenda.entry"):
    return {e.stream for e in envelopes if e.kind == kind}


def test_a_4e_guardians_entry_reaches_exactly_them_in_each_school(school, clock):
    with capture_events() as sent:
        entry = add_entry(
            school,
            audience=Audience(
                org_id=school.org.pk,
                roles=frozenset({"guardian"}),
                levels=frozenset({"4e"}),
            ),
        )
    assert user_streams(sent) == {
        f"user:{school.parent.pk}",
        f"user:{school.other_parent.pk}",
    }
    assert [e.op for e in sent] == ["published", "published"]
    assert entry in access.entries_for(school.parent)
    assert entry not in access.entries_for(school.pupil)
    assert entry not in access.entries_for(school.teacher)
    # The other school's entry for its 5e C families reaches Karim there too.
    other = add_entry(
        school,
        org=school.other_org,
        actor=_staff_of(school.other_org),
        audience=Audience(
            org_id=school.other_org.pk, class_ids=frozenset({school.other_class.pk})
        ),
    )
    assert {e.pk for e in access.entries_for(school.parent)} == {entry.pk, other.pk}
    assert other not in access.entries_for(school.other_parent)
    assert other not in access.entries_for(school.cpe)  # not his school


def _staff_of(org):
    from core.roster.actions import grant_school_life_staff
    from tests.conftest import make_user

    staff = make_user("jeanne", "administrator", "Jeanne", "Roy")
    staff.orgs.add(org)
    grant_school_life_staff(staff)
    return staff


def test_a_guardian_whose_link_ends_stops_seeing_the_entry(school, clock):
    entry = add_entry(
        school,
        audience=Audience(
            org_id=school.org.pk, class_ids=frozenset({school.class_4b.pk})
        ),
    )
    assert entry in access.entries_for(school.parent)
    GuardianLink.objects.filter(guardian=school.parent, student=school.pupil).delete()
    assert entry not in access.entries_for(school.parent)


def test_only_staff_of_the_org_write(school, clock):
    with pytest.raises(actions.AgendaError):
        add_entry(school, actor=school.teacher)
    with pytest.raises(actions.AgendaError):
        add_entry(
            school, org=school.other_org, audience=Audience(org_id=school.other_org.pk)
        )
    assert not AgendaEntry.objects.exists()


@pytest.mark.parametrize(
    "fields, message",
    [
        (
            {"start": paris(2026, 1, 22, 18), "end": paris(2026, 1, 22, 17)},
            "fin est avant",
        ),
        ({"title": "  "}, "titre"),
        ({"kind": "party"}, "Type d'événement inconnu"),
        (
            {
                "all_day": True,
                "start": dt.date(2026, 1, 23),
                "end": dt.date(2026, 1, 22),
            },
            "fin est avant",
        ),
        ({"start": dt.datetime(2026, 1, 22, 17)}, "heure de début"),
    ],
)
def test_bad_entries_are_refused_with_a_message(school, clock, fields, message):
    with pytest.raises(actions.AgendaError, match=message):
        add_entry(school, **fields)


def test_another_schools_class_or_an_unknown_level_is_refused(school):
    with pytest.raises(actions.AgendaError, match="autre établissement"):
        actions.clean_audience(school.org, class_ids=[school.other_class.pk])
    with pytest.raises(actions.AgendaError):
        actions.clean_audience(school.org, levels=["7e"])
    with pytest.raises(actions.AgendaError):
        actions.clean_audience(school.org, roles=["janitor"])


def test_a_change_tells_those_before_and_after_and_counts(school, clock):
    entry = add_entry(
        school,
        audience=Audience(
            org_id=school.org.pk, class_ids=frozenset({school.class_4b.pk})
        ),
    )
    with capture_events() as sent:
        entry = actions.change_entry(
            actor=school.cpe,
            entry=entry,
            kind="class_council",
            title="Conseil (3e A)",
            start=entry.start,
            end=entry.end,
            audience=Audience(
                org_id=school.org.pk, class_ids=frozenset({school.class_3a.pk})
            ),
        )
    changed = {e.stream for e in sent if e.op == "changed"}
    removed = {e.stream: e.data for e in sent if e.op == "removed"}
    assert f"user:{school.pupil3.pk}" in changed  # now a member
    assert f"user:{school.parent.pk}" not in changed
    # Karim was a member: told it is gone, with the title he knew.
    assert removed[f"user:{school.parent.pk}"]["entry"]["title"] == "Conseil de classe"
    assert f"user:{school.pupil3.pk}" not in removed
    assert entry.sequence == 1 and entry.edited_at
    assert entry not in access.entries_for(school.parent)
    with capture_events() as sent:
        actions.cancel_entry(actor=school.cpe, entry=entry)
    assert {e.op for e in sent} == {"cancelled"}
    entry.refresh_from_db()
    assert entry.cancelled_at and entry.sequence == 2
    assert AuditEntry.objects.filter(action__startswith="agenda.entry_").count() == 3


def test_whole_school_entry_all_day(school, clock):
    entry = add_entry(
        school, all_day=True, start=dt.date(2026, 1, 26), end=dt.date(2026, 1, 27)
    )
    assert entry.start == paris(2026, 1, 26, 0) and entry.end == paris(2026, 1, 28, 0)
    for user in (school.pupil, school.parent, school.teacher, school.cpe):
        assert entry in access.entries_for(user)
    assert entry not in access.entries_for(school.outsider)


# Pages ----------------------------------------------------------------------


def test_staff_create_an_entry_from_the_form(school, client, clock):
    login_verified(client, school.cpe)
    response = client.post(
        "/agenda/new/",
        {
            "org": school.org.pk,
            "kind": "outing",
            "title": "Sortie <script>alert(1)</script>",
            "description": "Musée",
            "location": "Rennes",
            "start_date": "2026-01-23",
            "start_time": "08:00",
            "end_date": "2026-01-23",
            "end_time": "17:00",
            "classes": [school.class_4b.pk],
        },
    )
    assert response.status_code == 302, response.content
    entry = AgendaEntry.objects.get()
    assert entry.start == paris(2026, 1, 23, 8)
    client.force_login(school.parent)
    page = client.get("/agenda/").content.decode()
    assert "Sortie &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_the_form_keeps_what_was_typed_on_a_bad_entry(school, client, clock):
    login_verified(client, school.cpe)
    response = client.post(
        "/agenda/new/",
        {
            "org": school.org.pk,
            "kind": "outing",
            "title": "Sortie au musée",
            "start_date": "2026-01-23",
            "start_time": "17:00",
            "end_date": "2026-01-23",
            "end_time": "08:00",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Sortie au musée" in page and not AgendaEntry.objects.exists()


def test_other_schools_class_in_the_form_is_refused(school, client, clock):
    login_verified(client, school.cpe)
    response = client.post(
        "/agenda/new/",
        {
            "org": school.org.pk,
            "kind": "outing",
            "title": "Sortie",
            "start_date": "2026-01-23",
            "start_time": "08:00",
            "end_date": "2026-01-23",
            "end_time": "17:00",
            "classes": [school.other_class.pk],
        },
    )
    assert response.status_code == 200 and not AgendaEntry.objects.exists()


def test_teachers_and_families_cannot_open_the_staff_form(school, client):
    for user in (school.teacher, school.parent):
        login_verified(client, user)
        assert client.get("/agenda/new/").status_code == 404


def test_an_entry_of_another_school_cannot_be_edited(school, client, clock):
    entry = add_entry(
        school,
        org=school.other_org,
        actor=_staff_of(school.other_org),
        audience=Audience(org_id=school.other_org.pk),
    )
    login_verified(client, school.cpe)
    assert client.get(f"/agenda/{entry.pk}/edit/").status_code == 404
    assert client.post(f"/agenda/{entry.pk}/cancel/").status_code == 404


def test_home_card_shows_the_next_entries(school, client, clock):
    add_entry(school, title="Conseil de classe du 4e B")
    client.force_login(school.parent)
    page = client.get("/").content.decode()
    assert "Conseil de classe du 4e B" in page


def test_the_edit_form_shows_the_entry_and_saves_a_change(school, client, clock):
    entry = add_entry(
        school,
        audience=Audience(
            org_id=school.org.pk, class_ids=frozenset({school.class_4b.pk})
        ),
    )
    login_verified(client, school.cpe)
    page = client.get(f"/agenda/{entry.pk}/edit/").content.decode()
    assert 'value="Conseil de classe"' in page and 'value="2026-01-22"' in page
    response = client.post(
        f"/agenda/{entry.pk}/edit/",
        {
            "org": school.org.pk,
            "kind": "class_council",
            "title": "Conseil de classe (salle 14)",
            "location": "Salle 14",
            "start_date": "2026-01-22",
            "start_time": "17:30",
            "end_date": "2026-01-22",
            "end_time": "18:30",
            "classes": [school.class_4b.pk],
        },
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.location == "Salle 14" and entry.sequence == 1
    assert client.post(f"/agenda/{entry.pk}/cancel/").status_code == 302
    entry.refresh_from_db()
    assert entry.cancelled_at is not None
