"""Fresh-user trial fixes on the agenda pages: link labels, dates, the
slots form keeping what was typed, the new-entry form's choices."""

import pytest

from core.agenda import actions
from core.agenda.models import MeetingSlot
from core.roster.actions import grant_school_life_staff
from core.roster.audience import Audience
from tests.agenda.conftest import add_entry, open_slots
from tests.conftest import login_verified, make_user

pytestmark = pytest.mark.django_db


def test_edit_link_and_home_card_month_in_french(school, client, clock):
    add_entry(school, title="Conseil de classe du 4e B")
    login_verified(client, school.cpe)
    page = client.get("/agenda/").content.decode()
    assert ">Modifier</a>" in page and "Modification" not in page
    client.force_login(school.parent)
    page = client.get("/").content.decode()
    assert "jeu 22 jan 17:00" in page and "Jan" not in page


@pytest.mark.parametrize(
    "start, end",
    [("17:55", "18:30"), ("19:00", "18:00")],  # overlaps; ends before it starts
)
def test_the_slots_form_keeps_what_was_typed_after_an_error(
    school, client, clock, evening, start, end
):
    open_slots(school.teacher, evening, (17, 0), (18, 0), 10)
    login_verified(client, school.teacher)
    response = client.post(
        f"/agenda/evenings/{evening.pk}/slots/",
        {"start": start, "end": end, "minutes": "15", "room": "Salle B14"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f'value="{start}"' in page and f'value="{end}"' in page
    assert 'value="15"' in page and 'value="Salle B14"' in page
    assert MeetingSlot.objects.filter(evening=evening).count() == 6


def test_opening_one_slot_says_it_in_the_singular(school, client, clock, evening):
    login_verified(client, school.teacher)
    response = client.post(
        f"/agenda/evenings/{evening.pk}/slots/",
        {"start": "17:00", "end": "17:10", "minutes": "10", "room": ""},
        follow=True,
    )
    assert "1 créneau ouvert." in response.content.decode()


def test_cancelling_a_meeting_or_an_entry_asks_first(school, client, clock, evening):
    entry = add_entry(school)
    login_verified(client, school.cpe)
    page = client.get(f"/agenda/{entry.pk}/edit/").content.decode()
    assert 'data-confirm="Annuler cet événement ?"' in page
    slot = open_slots(school.teacher, evening)[0]
    actions.book(guardian=school.parent, slot=slot, student=school.pupil)
    client.force_login(school.parent)
    page = client.get(f"/agenda/evenings/{evening.pk}/").content.decode()
    assert 'data-confirm="Annuler ce rendez-vous ?"' in page


def test_a_parent_of_two_reads_which_child_an_entry_concerns(school, client, clock):
    add_entry(
        school,
        title="Réunion des 4e",
        audience=Audience(org_id=school.org.pk, levels=frozenset({"4e"})),
    )
    staff = make_user("jeanne", "administrator", "Jeanne", "Roy")
    staff.orgs.add(school.other_org)
    grant_school_life_staff(staff)
    add_entry(school, org=school.other_org, title="Portes ouvertes", actor=staff)
    client.force_login(school.parent)
    page = client.get("/agenda/").content.decode()
    first = page[page.index("Réunion des 4e") :].split("</li>", 1)[0]
    assert "Pour Léa" in first and "Inès" not in first
    other = page[page.index("Portes ouvertes") :].split("</li>", 1)[0]
    assert "Pour Inès" in other and "Léa" not in other
    client.force_login(school.other_parent)  # one child: nothing to say
    assert "Pour " not in client.get("/agenda/").content.decode()


def test_the_new_entry_form_preselects_the_one_school_and_its_levels(
    school, client, clock
):
    login_verified(client, school.cpe)
    page = client.get("/agenda/new/").content.decode()
    assert f'<option value="{school.org.pk}" selected>' in page
    assert 'value="4e"' in page and 'value="Tle"' not in page
