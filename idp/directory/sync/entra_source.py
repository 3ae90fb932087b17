"""Reading Entra ID through Microsoft Graph, and writing passwords there.

The app signs in with the client-credentials grant through MSAL (its token cache renews the
token; MSAL honours a token endpoint's 429 itself). Graph's own throttling is ours to honour:
a 429 or 503 with ``Retry-After`` waits that long (up to ``max_retry_wait_seconds`` per
request) and tries again. ``users/delta`` and ``groups/delta`` are read page by page through
``@odata.nextLink`` until a page carries the ``@odata.deltaLink`` to come back with; a last
page with neither is a broken answer and stops the pass before anything is concluded from it.

Certificates are validated (the system CAs, or ``ca_file``); this machine's
``REQUESTS_CA_BUNDLE`` must not override that, so the session ignores the environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import msal
import requests

from idp.config.directory import EntraSource
from idp.directory.sync.records import (
    DirectoryRefused,
    DirectoryUnavailable,
    DirectoryUser,
    Throttled,
)

MICROSOFT_HOSTS = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
    "login.microsoftonline.de",
)
MAX_PAGE_BYTES = 16 * 1024 * 1024
_BASE_SELECT = ("id", "userPrincipalName", "accountEnabled")


@dataclass(frozen=True)
class DeltaPage:
    users: tuple[DirectoryUser, ...]
    removed: tuple[str, ...]
    next_link: str | None
    delta_link: str | None


@dataclass(frozen=True)
class MemberChanges:
    added: frozenset[str]
    removed: frozenset[str]
    delta_link: str


class GraphDirectory:
    def __init__(
        self, settings: EntraSource, *, secret: str, sleep: Callable[[float], None] | None = None
    ) -> None:
        self.settings = settings
        self.source = settings.name
        self._sleep = sleep
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = str(settings.ca_file) if settings.ca_file else True
        self._secret = secret
        self._app = self._msal_app()
        graph = urlsplit(settings.graph_url)
        self._scope = f"{graph.scheme}://{graph.netloc}/.default"
        self._user_scope = f"{graph.scheme}://{graph.netloc}/User.Read"

    def _msal_app(self) -> msal.ConfidentialClientApplication:
        settings = self.settings
        host = urlsplit(settings.authority).hostname or ""
        try:  # MSAL reads the authority's metadata here
            return msal.ConfidentialClientApplication(
                settings.client_id,
                client_credential=self._secret,
                authority=f"{settings.authority}/{settings.tenant_id}",
                http_client=self.http,
                instance_discovery=host in MICROSOFT_HOSTS,
                timeout=settings.timeout_seconds,
            )
        except (requests.RequestException, ValueError) as exc:
            raise DirectoryUnavailable(
                f"cannot reach the authority {settings.authority}: {type(exc).__name__}"
            ) from None

    def sign_in_as(self, username: str, password: str) -> dict[str, Any]:
        """The token endpoint's answer to the user's own credentials (ROPC, RFC 6749 §4.3,
        as a confidential client). Posted here rather than through MSAL's helper, whose
        user-realm lookup ignores the authority's port; the token is not kept."""
        form = {
            "grant_type": "password",
            "client_id": self.settings.client_id,
            "client_secret": self._secret,
            "username": username,
            "password": password,
            "scope": f"openid {self._user_scope}",
        }
        try:
            response = self.http.post(
                self._app.authority.token_endpoint,
                data=form,
                timeout=self.settings.timeout_seconds,
            )
        except requests.RequestException as exc:
            raise DirectoryUnavailable(
                f"cannot reach the token endpoint: {type(exc).__name__}"
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise DirectoryUnavailable(f"the token endpoint answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        return answer if isinstance(answer, dict) else {}

    def close(self) -> None:
        self.http.close()

    # -- HTTP -----------------------------------------------------------------------------
    def _token(self) -> str:
        try:
            result = self._app.acquire_token_for_client(scopes=[self._scope])
        except (requests.RequestException, ValueError) as exc:
            raise DirectoryUnavailable(
                f"cannot reach the token endpoint: {type(exc).__name__}"
            ) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            described = str(result.get("error_description") or result.get("error"))[:300]
            raise DirectoryRefused(f"Entra ID refused the app's sign-in: {described}")
        return str(token)

    def request(
        self, method: str, url: str, *, body: Mapping[str, Any] | None = None
    ) -> requests.Response:
        """One Graph call, waiting out 429/503 ``Retry-After`` within the configured limit."""
        waited = 0.0
        while True:
            try:
                response = self.http.request(
                    method,
                    url,
                    json=body,
                    timeout=self.settings.timeout_seconds,
                    headers={"Authorization": f"Bearer {self._token()}"},
                )
            except requests.RequestException as exc:
                raise DirectoryUnavailable(
                    f"the connection to Microsoft Graph dropped: {type(exc).__name__}"
                ) from None
            if response.status_code not in (429, 503):
                return response
            wait = _retry_after(response.headers.get("Retry-After"))
            if waited + wait > self.settings.max_retry_wait_seconds:
                raise Throttled(
                    f"Microsoft Graph asked to wait {wait:.0f} s more (already {waited:.0f} s); "
                    "try the sync again later"
                )
            (self._sleep or time.sleep)(wait)
            waited += wait

    def get_json(self, url: str) -> dict[str, Any]:
        response = self.request("GET", url)
        if response.status_code != 200:
            raise DirectoryRefused(
                f"Graph answered {response.status_code}: {graph_error(response)}"
            )
        if len(response.content) > MAX_PAGE_BYTES:
            raise DirectoryRefused(f"a Graph page of {len(response.content)} bytes is too large")
        try:
            data = response.json()
        except ValueError:
            raise DirectoryRefused("Graph answered with a body that is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("value", []), list):
            raise DirectoryRefused("Graph answered with JSON that is not a page of values")
        return data

    # -- reading --------------------------------------------------------------------------
    def users_url(self) -> str:
        fields = sorted(set(_BASE_SELECT) | set(self.settings.mapping.values()))
        return f"{self.settings.graph_url}/users/delta?$select={','.join(fields)}"

    def user_pages(self, start: str) -> Iterator[DeltaPage]:
        url: str | None = start
        while url is not None:
            self._check_link(url)
            data = self.get_json(url)
            users, removed = [], []
            for item in data.get("value", []):
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    raise DirectoryRefused("a Graph user without an id")
                if "@removed" in item:
                    removed.append(item["id"].lower())
                elif (user := self.to_user(item)) is not None:
                    users.append(user)
            next_link, delta_link = _links(data)
            yield DeltaPage(tuple(users), tuple(removed), next_link, delta_link)
            url = next_link

    def group_id(self, name: str) -> str | None:
        # OData string literals double their single quotes (OData ABNF, SQUOTE-in-string).
        literal = name.replace("'", "''")
        url = (
            f"{self.settings.graph_url}/groups?$filter=displayName eq '{quote(literal)}'&$select=id"
        )
        found = self.get_json(url).get("value", [])
        return str(found[0]["id"]).lower() if found else None

    def members(self, group_id: str, start: str | None) -> MemberChanges:
        """groups/delta for one group: every member (``start`` None) or the changes since."""
        url: str | None = start or (
            f"{self.settings.graph_url}/groups/delta?$filter=id eq '{group_id}'&$select=members"
        )
        added: set[str] = set()
        removed: set[str] = set()
        while url is not None:
            self._check_link(url)
            data = self.get_json(url)
            for group in data.get("value", []):
                for member in group.get("members@delta", []) if isinstance(group, dict) else []:
                    if (
                        member.get("@odata.type", "#microsoft.graph.user")
                        != "#microsoft.graph.user"
                    ):
                        continue
                    target = removed if "@removed" in member else added
                    target.add(str(member.get("id", "")).lower())
            url, delta_link = _links(data)
            if url is None:
                assert delta_link is not None
                return MemberChanges(frozenset(added - removed), frozenset(removed), delta_link)
        raise AssertionError("unreachable")  # pragma: no cover

    def user(self, user_id: str) -> DirectoryUser | None:
        fields = sorted(set(_BASE_SELECT) | set(self.settings.mapping.values()))
        url = f"{self.settings.graph_url}/users/{quote(user_id)}?$select={','.join(fields)}"
        response = self.request("GET", url)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DirectoryRefused(
                f"Graph answered {response.status_code}: {graph_error(response)}"
            )
        return self.to_user(response.json())

    def _check_link(self, url: str) -> None:
        """Links come from Graph's answers: follow them only back to the configured Graph."""
        if not url.startswith(self.settings.graph_url + "/"):
            raise DirectoryRefused(
                f"Graph sent a link outside {self.settings.graph_url}: {url[:200]}"
            )

    def to_user(self, item: Mapping[str, Any]) -> DirectoryUser | None:
        m = self.settings.mapping

        def text(field: str) -> str | None:
            name = m.get(field)
            value = item.get(name) if name else None
            return value.strip() or None if isinstance(value, str) else None

        username, email = text("username"), text("email")
        if not username or not email:
            return None
        key = str(item["id"]).lower()
        return DirectoryUser(
            key=key,
            username=username,
            email=email,
            first_name=text("first_name") or "",
            last_name=text("last_name") or "",
            enabled=item.get("accountEnabled") is not False,
            phone=text("phone"),
            company=text("company"),
            department=text("department"),
            position=text("position"),
            upn=item.get("userPrincipalName"),
            entra_object_id=key,
            entra_tenant_id=self.settings.tenant_id,
        )


def _links(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    next_link, delta_link = data.get("@odata.nextLink"), data.get("@odata.deltaLink")
    if not isinstance(next_link, str) and not isinstance(delta_link, str):
        raise DirectoryRefused(
            "a Graph delta page had neither @odata.nextLink nor @odata.deltaLink: "
            "the pass stops here and nothing is concluded from it"
        )
    return (
        next_link if isinstance(next_link, str) else None,
        delta_link if isinstance(delta_link, str) else None,
    )


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value or 1), 0.0), 3600.0)
    except ValueError:
        return 1.0


def graph_error(response: requests.Response) -> str:
    """Graph's error body ``{"error": {"code", "message"}}`` as one line."""
    try:
        error = response.json().get("error", {})
        return f"{error.get('code')}: {error.get('message')}"[:500]
    except (ValueError, AttributeError):
        return response.text[:200]
