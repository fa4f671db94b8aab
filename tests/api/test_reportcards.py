"""``/api/v1/reportcards`` over two schools and a family with a child in
each: guardians only, as on the site, and the staff's audited download."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from core.grades.models import Period
from core.reportcards import actions, generation
from core.reportcards.models import ReportCard
from core.roster.models import GuardianLink
from tests.api.calls import api, audited, get


@pytest.fixture
def cards(world, settings, tmp_path):
    """Each school's period published for its class and the PDFs made
    (the background task run in place): Léa's, Hugo's and Inès's cards."""
    settings.MEDIA_ROOT = tmp_path
    s = world.school
    today = timezone.localdate()
    for school_class, staff in [(s.class_4b, s.cpe), (s.other_class, world.berthe)]:
        period = Period.objects.create(
            org=school_class.org,
            session=school_class.session,
            title="Trimestre 1",
            start_date=today - dt.timedelta(days=60),
            end_date=today - dt.timedelta(days=1),
        )
        publication = actions.publish(
            staff=staff, school_class=school_class, period=period
        )
        generation.generate(publication.pk, publication.generation)
    found = {c.student_id: c for c in ReportCard.objects.exclude(file="")}
    return SimpleNamespace(
        lea=found[s.pupil.pk], hugo=found[s.pupil2.pk], ines=found[s.other_child.pk]
    )


def listed(user) -> dict[int, list[int]]:
    status, body = get(user, "/api/v1/reportcards")
    assert status == 200
    return {c["id"]: [card["id"] for card in c["cards"]] for c in body["children"]}


def pdf(user, card):
    return api(user).get(f"/api/v1/reportcards/{card.pk}/pdf")


def test_each_guardian_lists_their_childrens_cards_only(world, cards):
    s = world.school
    assert listed(s.parent) == {
        s.pupil.pk: [cards.lea.pk],
        s.other_child.pk: [cards.ines.pk],
    }
    assert listed(s.other_parent) == {s.pupil2.pk: [cards.hugo.pk]}
    for user in (s.pupil, s.other_child, s.teacher, s.cpe):
        assert listed(user) == {}


def test_a_guardian_downloads_their_childs_pdf_unaudited(world, cards):
    s = world.school
    for card in (cards.lea, cards.ines):
        response = pdf(s.parent, card)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")
        assert response["Cache-Control"] == "private, no-store"
    assert audited("reportcard.downloaded") == 0


@pytest.mark.parametrize(
    "who, card",
    [
        ("parent", "hugo"),
        ("other_parent", "lea"),
        ("pupil", "lea"),
        ("other_child", "ines"),
        ("teacher", "lea"),
        ("outsider", "ines"),
    ],
)
def test_nobody_else_downloads_a_card(world, cards, who, card):
    response = pdf(getattr(world.school, who), getattr(cards, card))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_staffs_download_is_audited_in_their_school_only(world, cards):
    s = world.school
    assert pdf(s.cpe, cards.lea).status_code == 200
    assert audited("reportcard.downloaded") == 1
    assert pdf(s.cpe, cards.ines).status_code == 404
    assert pdf(world.berthe, cards.ines).status_code == 200
    assert audited("reportcard.downloaded") == 2


def test_an_ended_link_ends_the_cards_at_once(world, cards):
    s = world.school
    GuardianLink.objects.filter(guardian=s.parent, student=s.other_child).delete()
    assert listed(s.parent) == {s.pupil.pk: [cards.lea.pk]}
    assert pdf(s.parent, cards.ines).status_code == 404
