"""The Flask app for the admin API and console tests, over a real runtime (SQLite + the
in-process store), one app per test module; ``api.key(role)`` gives a Bearer key of an admin
with that role, made through the same services the API calls (as the CLI would)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_idp.api import services
from flask_idp.app import create_app
from flask_idp.demo import prepare
from idp.admin.access import CLI, Permission, Role
from idp.admin.accounts import AdminCreate, ApiKeyCreate
from idp.admin.employee_models import EmployeeCreate
from idp.config.loader import load_config
from idp.runtime import Runtime, build_runtime
from tests.flask_idp.conftest import MovableClock


@dataclass
class Api:
    app: Flask
    runtime: Runtime
    clock: MovableClock
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()

    def admin(self, role: Role) -> tuple[str, str]:
        """A new employee with an admin account of ``role``: (admin id, username)."""
        username = f"{role.value}-{secrets.token_hex(3)}"
        with self.app.app_context():
            svc = services()
            svc.employees.create(
                CLI, EmployeeCreate(username=username, email=f"{username}@example.com")
            )
            admin = svc.accounts.create_admin(CLI, AdminCreate(username=username, role=role))
        return admin.id, username

    def key(self, role: Role, scopes: list[Permission] | None = None, days: int = 30) -> str:
        """A Bearer token of a (cached) admin of ``role``, with ``scopes`` (default: all
        the role has)."""
        cache = f"{role}:{scopes}:{days}"
        if cache not in self.keys:
            from idp.admin.access import ROLE_PERMISSIONS

            admin_id, _ = self.admin(role)
            with self.app.app_context():
                made = services().accounts.create_key(
                    CLI,
                    ApiKeyCreate(
                        name="tests",
                        scopes=scopes or sorted(ROLE_PERMISSIONS[role]),
                        expires_in_days=days,
                        admin_id=admin_id,
                    ),
                )
            self.keys[cache] = made.secret
        return self.keys[cache]

    def call(
        self,
        method: str,
        path: str,
        *,
        role: Role = Role.ADMIN,
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        auth = {"Authorization": f"Bearer {token or self.key(role)}"}
        return self.client.open(
            "/api/v1" + path,
            method=method,
            json=json,
            headers={**auth, **(headers or {})},
            **kwargs,
        )

    def new_employee(self, **fields: Any) -> dict[str, Any]:
        username = f"emp-{secrets.token_hex(4)}"
        body = {"username": username, "email": f"{username}@example.com", **fields}
        response = self.call("POST", "/employees", json=body)
        assert response.status_code == 201, response.json
        data: dict[str, Any] = response.json  # type: ignore[assignment]
        return data


def admin_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    directory: Path = tmp_path_factory.mktemp("admin_api")
    config_path = prepare(directory, port=18090, sp_port=18091)
    clock = MovableClock()
    runtime = build_runtime(load_config(config_path), clock=clock)
    yield Api(app=create_app(runtime), runtime=runtime, clock=clock)
    runtime.audit.flush()
    runtime.db.engine.dispose()
