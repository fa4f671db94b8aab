"""The API against its own OpenAPI schema, by property-based testing
(schemathesis): every operation, with generated parameters and bodies, sent
through Django's WSGI application with a live token of a guardian with
children in two schools. No answer may be a server error, and every answer
must match the schema (its status code's body included). Path ids are
half the time swapped for ids of rows that exist (``world``), so writes
reach the actions and not only the 404.

Kept short (a few examples per operation) so the suite stays fast.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from core.api.api import api
from tests.api.helpers import token_for
from tests.api.module_rows import module_ids

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_params={}))
APP = get_wsgi_application()


@pytest.fixture
def wsgi_in_the_test_transaction():
    """Keep the WSGI handler from closing the test's database connection at
    each request's end (what Django's test client does too): the rows of the
    test's transaction stay, and PostgreSQL opens no other connection."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def known(world, wsgi_in_the_test_transaction, settings, tmp_path):
    """A live token of Karim, and the ids of rows his token may reach."""
    settings.MEDIA_ROOT = tmp_path
    from core.attendance.actions import submit_excuse

    excuse = submit_excuse(
        record=world.recB, guardian=world.school.parent, reason="illness"
    )
    return {
        "secret": token_for(world.school.parent),
        "class_id": world.school.class_4b.pk,
        "record_id": world.recA.pk,
        "excuse_id": excuse.pk,
        "conversation_id": world.convA.pk,
        **module_ids(world),
    }


def test_the_schema_is_openapi_3_and_lists_every_router():
    document = api.get_openapi_schema(path_params={})
    assert document["openapi"].startswith("3.")
    paths = set(document["paths"])
    assert "/api/v1/me" in paths
    assert "/api/v1/timetable/classes/{class_id}/lessons" in paths
    for prefix in ["homework", "documents", "grades", "reportcards", "schoollife"]:
        assert any(path.startswith(f"/api/v1/{prefix}/") for path in paths), prefix
    assert "/api/v1/agenda/slots/{slot_id}/booking" in paths


def test_the_schema_and_the_docs_are_served(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Hub ENT API"
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"/static/ninja/swagger-ui-bundle.js" in docs.content
    assert b"cdn" not in docs.content.lower()


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_matches_the_schema(case, known):
    for name, value in (case.path_parameters or {}).items():
        if isinstance(value, int) and value % 2 == 0 and name in known:
            if callable(known[name]):  # made on first use
                known[name] = known[name]()
            case.path_parameters[name] = known[name]
    response = case.call(
        app=APP, headers={"Authorization": f"Bearer {known['secret']}"}
    )
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance]
    )
