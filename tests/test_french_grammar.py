"""French on the pages a family reads: "d’Inès", "1 conversation non lue"
(issue 16, found by a newcomer)."""

import html

import pytest
from django.utils import translation

from core.elision import of_name, starts_with_vowel_sound
from tests.conftest import login_verified
from tests.messaging.helpers import start


@pytest.mark.parametrize(
    ("name", "elided"),
    [
        ("Inès", "d’Inès"),
        ("Émile", "d’Émile"),
        ("Hugo", "d’Hugo"),
        ("Yves", "d’Yves"),
        ("Œdipe", "d’Œdipe"),
        ("Léa", "de Léa"),
        ("Yasmine", "de Yasmine"),
        ("", "de "),
    ],
)
def test_de_is_elided_before_a_vowel_sound(name, elided):
    with translation.override("fr"):
        assert of_name(name) == elided
    with translation.override("en"):
        assert of_name(name) == f"of {name}"


def test_a_lone_h_or_y_is_no_vowel_sound():
    assert not starts_with_vowel_sound("H")
    assert not starts_with_vowel_sound("Y")


@pytest.mark.django_db
def test_the_guardian_home_says_d_ines_and_de_lea(school, client):
    login_verified(client, school.parent)
    page = html.unescape(client.get("/").content.decode())
    assert "d’Inès" in page and "de Léa" in page
    assert "de Inès" not in page


@pytest.mark.django_db
def test_one_unread_conversation_is_singular_two_are_plural(school, client):
    start(school, school.teacher, [school.parent])
    login_verified(client, school.parent)
    page = client.get("/").content.decode()
    assert "> conversation non lue</span>" in page
    assert "conversations non lues" not in page
    start(school, school.teacher, [school.parent], subject="Cantine")
    page = client.get("/").content.decode()
    assert "> conversations non lues</span>" in page
