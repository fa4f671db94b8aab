"""The API against its own OpenAPI schema, by property-based testing
(schemathesis): every operation, with generated parameters and bodies, sent
through Django's WSGI application with a live token of a guardian with
children in two schools. No answer may be a server error, and every answer
must match the schema (its status code's body included).

Kept short (a few examples per operation) so the suite stays fast.
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from core.api.api import api
from tests.api.helpers import token_for
from tests.conftest import build_school

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_params={}))
APP = get_wsgi_application()


@pytest.fixture
def secret(db):
    return token_for(build_school().parent)


def test_the_schema_is_openapi_3_and_lists_every_router():
    document = api.get_openapi_schema(path_params={})
    assert document["openapi"].startswith("3.")
    paths = set(document["paths"])
    assert "/api/v1/me" in paths
    assert "/api/v1/timetable/classes/{class_id}/lessons" in paths


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
def test_every_operation_matches_the_schema(case, secret):
    response = case.call(app=APP, headers={"Authorization": f"Bearer {secret}"})
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance]
    )
