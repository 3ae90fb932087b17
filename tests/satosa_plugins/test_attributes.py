"""DirectoryAttributes with SATOSA's own Context and InternalData: the directory's values by
subject; an unknown subject is refused (or passed on when configured), never half-filled."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from satosa.context import Context
from satosa.internal import AuthenticationInformation, InternalData
from satosa.state import State

from idp.directory.model import Company, Department
from idp.runtime import Runtime
from idp.store.sql.repositories import OrganisationRepository
from satosa_plugins.attributes import DirectoryAttributes


def plugin(idp_config: Path, **changes: Any) -> tuple[DirectoryAttributes, list[InternalData]]:
    config: dict[str, Any] = {
        "idp_config": str(idp_config),
        "match": {"attribute": "mail", "by": "email"},
        "attributes": {
            "employeenumber": "employee_id",
            "groups": "groups",
            "sid": "external_id:ad_object_sid",
            "isadmin": "member_of:Admins",
        },
    }
    config.update(changes)
    service = DirectoryAttributes(config, {}, name="dir", base_url="http://localhost")
    passed: list[InternalData] = []

    def next_(context: Context, data: InternalData) -> str:
        passed.append(data)
        return "next"

    service.next = next_
    return service, passed


def context() -> Context:
    ctx = Context()
    ctx.state = State()
    ctx.request_method = "GET"
    ctx.http_headers = {"REMOTE_ADDR": "127.0.0.1"}
    return ctx


def data(mail: str, **attributes: list[str]) -> InternalData:
    return InternalData(
        auth_info=AuthenticationInformation(issuer="https://upstream.example.org"),
        requester="https://sp.example.org",
        subject_id="upstream-id",
        attributes={"mail": [mail], **attributes},
    )


def test_directory_values_replace_what_the_upstream_sent(
    idp_config: Path, runtime: Runtime
) -> None:
    service, passed = plugin(idp_config)
    alice = runtime.employees.get_by_username("alice")
    assert alice is not None
    assert service.process(context(), data("ALICE@example.com", groups=["forged"])) == "next"
    (out,) = passed
    assert out.attributes["employeenumber"] == [alice.id]
    assert out.attributes["groups"] == list(alice.groups)
    assert out.attributes["sid"] == [alice.ad_object_sid]
    assert out.attributes["isadmin"] == ["false"]
    assert out.attributes["mail"] == ["ALICE@example.com"]


def test_an_unknown_subject_is_refused_with_an_error_page(
    idp_config: Path, runtime: Runtime
) -> None:
    service, passed = plugin(idp_config)
    response = service.process(context(), data("nobody@example.com"))
    assert response.status.startswith("403")
    assert "nobody@example.com" in response.message and "error-id" in response.message
    assert passed == []


def test_an_unknown_subject_passes_unchanged_when_configured(
    idp_config: Path, runtime: Runtime
) -> None:
    service, passed = plugin(idp_config, pass_unknown=True)
    assert service.process(context(), data("nobody@example.com")) == "next"
    assert passed[0].attributes == {"mail": ["nobody@example.com"]}


def test_several_matching_values_for_different_employees_are_refused(
    idp_config: Path, runtime: Runtime
) -> None:
    service, passed = plugin(idp_config)
    both = data("alice@example.com")
    both.attributes["mail"].append("bob@example.com")
    response = service.process(context(), both)
    assert response.status.startswith("403")
    assert "alice, bob" in response.message
    assert passed == []


def test_the_department_comes_from_the_org_structure(idp_config: Path, runtime: Runtime) -> None:
    org = OrganisationRepository(runtime.db)
    org.add_company(Company("c-attr", "Acme"))
    org.add_department(Department("d-attr", "Research", "c-attr"))
    bob = runtime.employees.get_by_username("bob")
    assert bob is not None
    runtime.employees.update(dataclasses.replace(bob, department_id="d-attr"))
    service, passed = plugin(idp_config, attributes={"ou": "department"})
    assert service.process(context(), data("bob@example.com", ou=["forged"])) == "next"
    assert passed[0].attributes["ou"] == ["Research"]
    # Someone without a department gets none (not the upstream's value).
    assert service.process(context(), data("alice@example.com", ou=["forged"])) == "next"
    assert passed[1].attributes["ou"] == []
