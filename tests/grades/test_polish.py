"""Fresh-user trial fixes on the grades pages: ISO dates in the edit forms,
French wording and plural forms, the "nr counts 0" legend, the teacher's
subject as the default."""

import pytest
from django.urls import reverse

from tests.conftest import login_verified
from tests.grades.test_views import marked  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_edit_forms_send_iso_dates(client, marked):  # noqa: F811
    s = marked
    login_verified(client, s.teacher)
    html = client.get(reverse("grades:edit", args=[s.maths.pk])).content.decode()
    assert 'value="2026-01-12"' in html
    login_verified(client, s.cpe)
    period = s.periods[0]
    html = client.get(reverse("grades:periods"), {"edit": period.pk}).content.decode()
    assert 'value="2025-09-01"' in html and 'value="2025-11-30"' in html
