"""An Entra ID *stand-in* on loopback (Entra itself cannot be reached from here).

It is not Entra: it serves over TLS (with a CA the test makes) the few endpoints directory sync
uses, in the shapes Microsoft documents — the v2.0 authority metadata and client-credentials
token endpoint MSAL talks to, and Microsoft Graph v1.0 ``users/delta`` and ``groups/delta``
(``@odata.nextLink`` pages, an ``@odata.deltaLink`` at the end, ``@removed`` entries,
``members@delta``), ``PATCH /users/{id}`` with a ``passwordProfile``,
``POST /users/{id}/changePassword``, Graph's error body ``{"error": {"code", "message"}}`` and
throttling (429 with ``Retry-After``). Tests drive its faults: ``throttle``, ``drop_after``,
``lose_delta_link``.

The user's own sign-in (ROPC, ``grant_type=password``, what MSAL's
``acquire_token_by_username_password`` sends after its user-realm lookup,
``GET /common/userrealm/{name}``) answers as Entra does: a token, or ``invalid_grant`` with
the AADSTS code — 50126 wrong credentials, 50057 disabled, 50076 MFA required (the password
was right), 50053 locked by smart lockout after ``lockout_threshold`` wrong passwords.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.loopback_tls import make_tls

TENANT = "7d5f3c2a-0b1e-4c6d-9a8b-1c2d3e4f5a6b"
CLIENT_ID = "3f2e1d0c-9b8a-4765-8432-10fedcba9876"
CLIENT_SECRET = "stand-in-client-secret-0123456789"
_COMPLEX = [re.compile(p) for p in (r"[A-Z]", r"[a-z]", r"[0-9]", r"[^A-Za-z0-9]")]


@dataclass
class User:
    id: str
    userPrincipalName: str
    mail: str | None
    givenName: str = ""
    surname: str = ""
    accountEnabled: bool = True
    jobTitle: str | None = None
    department: str | None = None
    companyName: str | None = None
    mobilePhone: str | None = None
    password: str = ""
    protected: bool = False  # a Global Administrator: app-only resets are refused
    mfa: bool = False  # conditional access asks for MFA after the password (AADSTS50076)
    failed_sign_ins: int = 0  # smart lockout's count of wrong passwords
    version: int = 0
    deleted: bool = False

    def graph(self) -> dict[str, Any]:
        if self.deleted:
            return {"id": self.id, "@removed": {"reason": "changed"}}
        return {
            k: getattr(self, k)
            for k in (
                "id",
                "userPrincipalName",
                "mail",
                "givenName",
                "surname",
                "accountEnabled",
                "jobTitle",
                "department",
                "companyName",
                "mobilePhone",
            )
        }


@dataclass
class Group:
    id: str
    displayName: str
    members: dict[str, int] = field(default_factory=dict)  # user id → version when added
    removed: dict[str, int] = field(default_factory=dict)  # user id → version when removed


class EntraStandIn:
    """The tenant's state (users, groups, a change counter) and the server around it."""

    def __init__(self, directory: Path, *, page_size: int = 3) -> None:
        self.ca, cert, key = make_tls(directory)
        self.page_size = page_size
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.version = 0
        self.lock = threading.Lock()
        self.tokens: set[str] = set()
        self.requests: list[str] = []
        self.throttle = 0  # answer the next N Graph requests with 429
        self.drop_after: int | None = None  # close the connection after N more Graph pages
        self.lose_delta_link = False
        self.token_requests = 0
        self.password_sign_ins: list[str] = []  # the user names of ROPC requests
        self.lockout_threshold = 10  # Entra smart lockout's default
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"https://localhost:{self._server.server_address[1]}"

    def start(self) -> EntraStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what a tenant administrator does -------------------------------------------------
    def bump(self) -> int:
        self.version += 1
        return self.version

    def add_user(self, name: str, **values: Any) -> User:
        with self.lock:
            user = User(
                id=str(_uuid()),
                userPrincipalName=f"{name}@contoso.example",
                mail=f"{name}@contoso.example",
                version=self.bump(),
                **values,
            )
            self.users[user.id] = user
            return user

    def change_user(self, user_id: str, **values: Any) -> None:
        with self.lock:
            user = self.users[user_id]
            for k, v in values.items():
                setattr(user, k, v)
            user.version = self.bump()

    def add_group(self, name: str) -> Group:
        with self.lock:
            group = Group(id=str(_uuid()), displayName=name)
            self.groups[group.id] = group
            return group

    def add_member(self, group: Group, user: User) -> None:
        with self.lock:
            group.members[user.id] = self.bump()
            group.removed.pop(user.id, None)

    def remove_member(self, group: Group, user: User) -> None:
        with self.lock:
            group.members.pop(user.id, None)
            group.removed[user.id] = self.bump()


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def _handler(tenant: EntraStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(
            self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _error(
            self, status: int, code: str, message: str, headers: dict[str, str] | None = None
        ) -> None:
            self._send(
                status,
                {
                    "error": {
                        "code": code,
                        "message": message,
                        "innerError": {"request-id": secrets.token_hex(8)},
                    }
                },
                headers,
            )

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        # -- identity platform --------------------------------------------------------------
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/common/userrealm/"):
                self._send(200, {"ver": "1.0", "account_type": "Managed"})
                return
            if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                base = f"{tenant.base}/{TENANT}"
                self._send(
                    200,
                    {
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        "issuer": f"{base}/v2.0",
                        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    },
                )
                return
            self._graph("GET", self._body())

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            body = self._body()
            if path == f"/{TENANT}/oauth2/v2.0/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                tenant.token_requests += 1
                if form.get("grant_type") == "password":
                    self._password_grant(form)
                    return
                if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
                    "client_credentials",
                    CLIENT_ID,
                    CLIENT_SECRET,
                ):
                    self._send(
                        401,
                        {
                            "error": "invalid_client",
                            "error_description": "AADSTS7000215: Invalid client secret provided.",
                        },
                    )
                    return
                token = secrets.token_urlsafe(24)
                tenant.tokens.add(token)
                self._send(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token})
                return
            self._graph("POST", body)

        def _password_grant(self, form: dict[str, str]) -> None:
            """ROPC as Entra answers it (the AADSTS codes of the login errors reference)."""
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                self._token_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
                return
            name = form.get("username", "")
            tenant.password_sign_ins.append(name)
            with tenant.lock:
                user = next(
                    (
                        u
                        for u in tenant.users.values()
                        if u.userPrincipalName.lower() == name.lower()
                    ),
                    None,
                )
                if user is not None and user.failed_sign_ins >= tenant.lockout_threshold:
                    self._token_error(
                        400, "invalid_grant", 50053, "The account is locked (smart lockout)."
                    )
                    return
                if user is None or user.deleted or user.password != form.get("password"):
                    if user is not None:
                        user.failed_sign_ins += 1
                    self._token_error(
                        400,
                        "invalid_grant",
                        50126,
                        "Error validating credentials due to invalid username or password.",
                    )
                    return
                user.failed_sign_ins = 0
            if not user.accountEnabled:
                self._token_error(400, "invalid_grant", 50057, "The user account is disabled.")
            elif user.mfa:
                self._token_error(
                    400,
                    "invalid_grant",
                    50076,
                    "Due to a configuration change made by your administrator, you must use "
                    "multi-factor authentication to access this resource.",
                )
            else:
                self._send(
                    200,
                    {
                        "token_type": "Bearer",
                        "expires_in": 3599,
                        "scope": form.get("scope", ""),
                        "access_token": secrets.token_urlsafe(24),
                    },
                )

        def _token_error(self, status: int, error: str, code: int, text: str) -> None:
            self._send(
                status,
                {
                    "error": error,
                    "error_description": f"AADSTS{code}: {text}",
                    "error_codes": [code],
                },
            )

        def do_PATCH(self) -> None:
            self._graph("PATCH", self._body())

        # -- Microsoft Graph ----------------------------------------------------------------
        def _graph(self, method: str, body: bytes) -> None:
            parts = urlsplit(self.path)
            tenant.requests.append(f"{method} {parts.path}")
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in tenant.tokens:
                self._error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
                return
            if tenant.throttle > 0:
                tenant.throttle -= 1
                self._error(429, "TooManyRequests", "Too many requests.", {"Retry-After": "1"})
                return
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            path = parts.path.removeprefix("/v1.0")
            if method == "GET" and path == "/users/delta":
                self._delta(query, "users")
            elif method == "GET" and path == "/groups/delta":
                self._delta(query, "groups")
            elif method == "GET" and path == "/groups":
                wanted = re.fullmatch(r"displayName eq '(.*)'", query.get("$filter", ""))
                name = wanted.group(1).replace("''", "'") if wanted else None
                found = [{"id": g.id} for g in tenant.groups.values() if g.displayName == name]
                self._send(200, {"value": found})
            elif method == "GET" and path.startswith("/users/"):
                user = tenant.users.get(path.split("/")[2])
                if user is None or user.deleted:
                    self._error(
                        404,
                        "Request_ResourceNotFound",
                        f"Resource '{path.split('/')[2]}' does not exist.",
                    )
                else:
                    self._send(200, user.graph())
            elif method == "PATCH" and path.startswith("/users/"):
                self._patch(path.split("/")[2], body)
            elif method == "POST" and re.fullmatch(r"/users/[^/]+/changePassword", path):
                self._change(path.split("/")[2], body)
            else:
                self._error(400, "BadRequest", f"Unsupported request {method} {path}")

        def _delta(self, query: dict[str, str], kind: str) -> None:
            """Pages of ``page_size``; the token says (since, skip, until)."""
            token = query.get("$deltatoken") or query.get("$skiptoken")
            since, skip, until = (0, 0, tenant.version)
            if token:
                since, skip, until = (int(x) for x in token.split("."))
            if query.get("$deltatoken"):
                until = tenant.version
            items = self._items(kind, since, until, query)
            page = items[skip : skip + tenant.page_size]
            base = f"{tenant.base}/v1.0/{kind}/delta"
            body: dict[str, Any] = {"@odata.context": f"{base}", "value": page}
            if skip + tenant.page_size < len(items):
                body["@odata.nextLink"] = (
                    f"{base}?$skiptoken={since}.{skip + tenant.page_size}.{until}"
                )
            elif not tenant.lose_delta_link:
                body["@odata.deltaLink"] = f"{base}?$deltatoken={until}.0.{until}"
            if tenant.drop_after is not None and kind == "users":
                if tenant.drop_after == 0:
                    tenant.drop_after = None
                    self.connection.close()
                    self.close_connection = True
                    return
                tenant.drop_after -= 1
            self._send(200, body)

        def _items(
            self, kind: str, since: int, until: int, query: dict[str, str]
        ) -> list[dict[str, Any]]:
            if kind == "users":
                return [
                    u.graph()
                    for u in sorted(tenant.users.values(), key=lambda u: u.version)
                    if since < u.version <= until and (since or not u.deleted)
                ]
            wanted = re.fullmatch(r"id eq '([0-9a-f-]+)'", query.get("$filter", ""))
            found = []
            for group in tenant.groups.values():
                if wanted and group.id != wanted.group(1):
                    continue
                members = [
                    {"@odata.type": "#microsoft.graph.user", "id": uid}
                    for uid, v in group.members.items()
                    if since < v <= until
                ]
                members += [
                    {
                        "@odata.type": "#microsoft.graph.user",
                        "id": uid,
                        "@removed": {"reason": "deleted"},
                    }
                    for uid, v in group.removed.items()
                    if since and since < v <= until
                ]
                if members or not since:
                    found.append(
                        {"id": group.id, "displayName": group.displayName, "members@delta": members}
                    )
            return found

        def _patch(self, user_id: str, body: bytes) -> None:
            user = tenant.users.get(user_id)
            if user is None:
                self._error(
                    404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist."
                )
                return
            profile = json.loads(body or b"{}").get("passwordProfile")
            if not isinstance(profile, dict) or not isinstance(profile.get("password"), str):
                self._error(
                    400,
                    "Request_BadRequest",
                    "Invalid value specified for property 'passwordProfile'.",
                )
                return
            if user.protected:
                self._error(
                    403,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                )
                return
            if not _complex(profile["password"]):
                self._error(
                    400,
                    "Request_BadRequest",
                    "The specified password does not comply with password "
                    "complexity requirements. Please provide a different password.",
                )
                return
            tenant.change_user(user_id, password=profile["password"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _change(self, user_id: str, body: bytes) -> None:
            user = tenant.users.get(user_id)
            data = json.loads(body or b"{}")
            if user is None:
                self._error(
                    404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist."
                )
            elif data.get("currentPassword") != user.password:
                self._error(400, "Request_BadRequest", "The current password is incorrect.")
            elif (
                not _complex(str(data.get("newPassword", "")))
                or data.get("newPassword") == user.password
            ):
                self._error(
                    400,
                    "Request_BadRequest",
                    "The specified password does not comply with password "
                    "complexity requirements. Please provide a different password.",
                )
            else:
                tenant.change_user(user_id, password=data["newPassword"])
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

    return Handler


def _complex(password: str) -> bool:
    return 8 <= len(password) <= 256 and sum(bool(p.search(password)) for p in _COMPLEX) >= 3
