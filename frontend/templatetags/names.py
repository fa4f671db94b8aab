"""``{{ pupil.first_name|of_name }}``: "de Léa", "d’Inès" (core.elision)."""

from django import template

from core import elision

register = template.Library()


@register.filter
def of_name(name) -> str:
    """Return "of ``name``", elided in French; escaped like any variable."""
    return elision.of_name(str(name))
