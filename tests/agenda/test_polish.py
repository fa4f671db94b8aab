"""Fresh-user trial fixes on the agenda pages: link labels, dates, the
slots form keeping what was typed, the new-entry form's choices."""

import pytest

from tests.agenda.conftest import add_entry
from tests.conftest import login_verified

pytestmark = pytest.mark.django_db


def test_edit_link_and_home_card_month_in_french(school, client, clock):
    add_entry(school, title="Conseil de classe du 4e B")
    login_verified(client, school.cpe)
    page = client.get("/agenda/").content.decode()
    assert ">Modifier</a>" in page and "Modification" not in page
    client.force_login(school.parent)
    page = client.get("/").content.decode()
    assert "jeu 22 jan 17:00" in page and "Jan" not in page
