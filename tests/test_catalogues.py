"""One word, one French translation: Django merges every app's catalogue
and, for a msgid several of them hold, shows the first app's everywhere
(a conversation's "subject" came out "matière", a roster import "fait",
a mark's "appréciation" "commentaire"). Words that mean different things
in different apps carry a context (pgettext)."""

import gettext
from collections import defaultdict
from pathlib import Path

import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = sorted(
    path
    for package in ("core", "hub", "frontend")
    for path in (ROOT / package).glob("**/locale/fr/LC_MESSAGES/django.mo")
)


def test_a_msgid_has_one_translation_across_the_catalogues():
    assert len(CATALOGUES) > 5
    translations: dict[str, dict[str, str]] = defaultdict(dict)
    for path in CATALOGUES:
        with path.open("rb") as file:
            catalogue = gettext.GNUTranslations(file)._catalog  # type: ignore[attr-defined]
        for msgid, msgstr in catalogue.items():
            if msgid:  # "" is the header
                key = msgid if isinstance(msgid, str) else f"{msgid[0]} [{msgid[1]}]"
                translations[key][str(path.relative_to(ROOT))] = msgstr
    clashes = {
        msgid: by_file
        for msgid, by_file in translations.items()
        if len(set(by_file.values())) > 1
    }
    assert clashes == {}


@pytest.mark.parametrize(
    "label, french",
    [
        ("core.messaging.models.Conversation.subject", "objet"),
        ("core.messaging.models.Report", "signalement"),
        ("core.grades.models.Mark.comment", "appréciation"),
    ],
)
def test_each_app_gets_its_own_word(label, french):
    from django.utils.module_loading import import_string

    *model_path, field = label.split(".")
    if field[0].isupper():
        model = import_string(label)
        name = model._meta.verbose_name
    else:
        model = import_string(".".join(model_path))
        name = model._meta.get_field(field).verbose_name
    with translation.override("fr"):
        assert str(name) == french


def test_choices_get_their_own_word():
    from core.grades.models import Evaluation
    from core.roster.models import RosterImport

    with translation.override("fr"):
        assert str(RosterImport.Status.DONE.label) == "terminé"
        assert str(Evaluation.Kind.HOMEWORK.label) == "devoir maison"


def test_a_changed_notice_is_feminine_a_changed_homework_masculine():
    import datetime as dt
    from types import SimpleNamespace

    from django.template.loader import render_to_string

    when = dt.datetime(2026, 1, 19, 9, 30, tzinfo=dt.UTC)
    notice = SimpleNamespace(
        org=SimpleNamespace(name="Collège"),
        author=SimpleNamespace(get_full_name="Nadia Benali"),
        published_at=when,
        publish_at=when,
        edited_at=when,
        attachments=SimpleNamespace(all=[]),
    )
    with translation.override("fr"):
        html = render_to_string("schoollife/_body.html", {"notice": notice})
        assert "modifiée le 19 janvier" in html
        assert translation.gettext("changed on %(when)s") == "modifié le %(when)s"
