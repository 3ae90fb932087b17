"""Domain passwords in Entra ID over Microsoft Graph (the policy, generator, AD side and the
audited actions are in :mod:`idp.directory.passwords`)."""

from __future__ import annotations

from typing import Any

from idp.directory.model import Employee
from idp.directory.passwords import ENTRA_POLICY, PasswordPolicy, PasswordRefused, Refusal
from idp.directory.sync.entra_source import GraphDirectory, graph_error


class GraphPasswords:
    """Passwords in Entra ID: ``PATCH /users/{id}`` with a ``passwordProfile`` (the app needs
    User-PasswordProfile.ReadWrite.All) and ``POST /users/{id}/changePassword``."""

    def __init__(self, graph: GraphDirectory) -> None:
        self.graph = graph
        self.source = graph.source

    def policy(self) -> PasswordPolicy:
        return ENTRA_POLICY

    def _url(self, employee: Employee, tail: str = "") -> str:
        if not employee.entra_object_id:
            raise PasswordRefused(Refusal.NOT_LINKED, f"{employee.username} has no Entra ID object")
        return f"{self.graph.settings.graph_url}/users/{employee.entra_object_id}{tail}"

    def reset(self, employee: Employee, password: str) -> None:
        body = {"passwordProfile": {"password": password, "forceChangePasswordNextSignIn": False}}
        self._answer(self.graph.request("PATCH", self._url(employee), body=body), employee)

    def change(self, employee: Employee, old: str, new: str) -> None:
        body = {"currentPassword": old, "newPassword": new}
        url = self._url(employee, "/changePassword")
        self._answer(self.graph.request("POST", url, body=body), employee, change=True)

    def _answer(self, response: Any, employee: Employee, *, change: bool = False) -> None:
        if response.status_code in (200, 204):
            return
        text = graph_error(response)
        if response.status_code == 403:
            raise PasswordRefused(
                Refusal.PROTECTED_ACCOUNT if not change else Refusal.NO_RIGHT,
                f"Entra ID does not let this app set the password of "
                f"{employee.username} (an administrator's password needs a "
                f"privileged role): {text}",
            )
        if "complexity" in text:
            raise PasswordRefused(
                Refusal.POLICY, "does not meet the password policy: " + ENTRA_POLICY.describe()
            )
        if change and "current password" in text.lower():
            raise PasswordRefused(Refusal.WRONG_PASSWORD, "the current password is wrong")
        raise PasswordRefused(Refusal.OTHER, f"Entra ID refused the password: {text}")
