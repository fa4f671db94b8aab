"""The admin speaks French: every app and model it lists (issue 16, a
newcomer saw "Deliverys" and English app names)."""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.utils import translation

from tests.conftest import login_verified

# Words French writes as English does (checked by hand, not a loophole).
SAME_IN_BOTH = {"Agenda", "Documents", "Pages", "Sessions", "Messages"}
SAME_IN_BOTH |= {"classes", "conversations", "notifications", "sessions"}
SAME_IN_BOTH |= {"conversation", "notification", "session", "document", "documents"}
SAME_IN_BOTH |= {"message", "messages", "participant", "participants"}
SAME_IN_BOTH |= {
    "action",
    "code",
    "date",
    "format",
    "session",
    "type",
    "urgent",
    "zone",
}


def in_french(label) -> bool:
    with translation.override("en"):
        english = str(label)
    with translation.override("fr"):
        french = str(label)
    assert not french.endswith(("ys", "ss")), french
    return french != english or french in SAME_IN_BOTH


def registered_models():
    return sorted(admin.site._registry, key=lambda m: m._meta.label)


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_every_admin_model_is_named_in_french(model):
    assert in_french(model._meta.verbose_name), model._meta.label
    assert in_french(model._meta.verbose_name_plural), model._meta.label
    assert in_french(apps.get_app_config(model._meta.app_label).verbose_name)


def test_every_project_model_and_app_is_named_in_french():
    for model in apps.get_models():
        if model.__module__.startswith(("core.", "hub.", "frontend.")):
            assert in_french(model._meta.verbose_name_plural), model._meta.label
    for config in apps.get_app_configs():
        if config.name.startswith(("core.", "hub", "frontend")):
            assert in_french(config.verbose_name), config.name


def shown_fields(model, model_admin):
    """The model's fields the admin lists, filters by or shows in its form."""
    names = set()
    for option in ("list_display", "list_filter", "fields", "readonly_fields"):
        for name in getattr(model_admin, option, None) or []:
            name = name[0] if isinstance(name, tuple) else name
            if isinstance(name, str):
                names.add(name.split("__")[0])
    fields = {f.name: f for f in model._meta.get_fields() if hasattr(f, "verbose_name")}
    return [fields[name] for name in sorted(names) if name in fields]


def project_admins():
    for model, model_admin in admin.site._registry.items():
        if model.__module__.startswith(("core.", "hub.")):
            yield model, model_admin
            for inline in model_admin.inlines:
                yield inline.model, inline


def test_the_fields_the_admin_shows_are_named_in_french():
    for model, model_admin in project_admins():
        for field in shown_fields(model, model_admin):
            assert in_french(field.verbose_name), f"{model._meta.label}.{field.name}"


@pytest.mark.django_db
def test_the_admin_index_is_in_french(client, school):
    school.cpe.is_staff = school.cpe.is_superuser = True
    school.cpe.save()
    login_verified(client, school.cpe)
    page = client.get("/admin/", headers={"accept-language": "fr"}).content.decode()
    for french in (
        "Notifications et envois",
        "Envois",
        "Annuaire",
        "Absences et retards",
        "Applications d’authentification",
        "Tâches en arrière-plan",
        "Résultats de tâches",
    ):
        assert french in page
    captions = re.findall(r"<caption>\s*<a[^>]*>([^<]+)</a>", page)
    for english in ("Delivery", "Roster", "Attendance", "Otp_Totp", "Axes"):
        assert english not in captions
    assert "Deliverys" not in page and "Task Results" not in page
    assert "<title>Site d’administration | Administration du Hub ENT</title>" in page
    assert "Django" not in re.sub(r"<[^>]*>", "", page)
