"""schemathesis (a fuzzer this project did not write) against the generated OpenAPI document:
a bounded number of generated requests per operation, every answer free of server errors and
matching the schema the document gives (status codes, bodies, content types, headers).

Driven through hypothesis directly (one test per documented operation): schemathesis' own
pytest plugin does not load under this pytest version."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from schemathesis import checks
from schemathesis.openapi import from_wsgi

from flask_idp.api import OPERATIONS
from idp.admin.access import Role
from tests.flask_idp.admin_support import Api

EXAMPLES = 12
#: "schema-valid data is accepted": the schema states shapes, lengths and patterns, not every
#: rule (a username in use, an unknown owner, control characters in a name), which the API
#: refuses with 409/422 and field-level messages — tested in test_api_employees.py
SEMANTIC = checks.positive_data_acceptance


@pytest.fixture(scope="module")
def api_schema(api: Api) -> schemathesis.BaseSchema:
    for _ in range(3):  # something for the GETs to find
        api.new_employee(first_name="Fuzz")
    return from_wsgi("/api/v1/openapi.json", api.app)


@pytest.mark.parametrize("method,path", [(op.method, op.path) for op in OPERATIONS])
def test_operation_answers_as_documented(
    api_schema: schemathesis.BaseSchema, api: Api, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    token = api.key(Role.ADMIN)

    @hypothesis.given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, excluded_checks=[SEMANTIC]
        )

    run()


def test_the_document_is_openapi_3_1_with_every_operation(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert documented == {(op.method, op.path) for op in OPERATIONS}
    assert document["paths"]["/employees"]["get"]["x-permission"] == "employees:read"
