"""Check a password the employee typed at a workstation against their directory, before the
vault stores it on their Hideez Key (a "skip password" or primary domain account).

Active Directory: an LDAP simple bind as the employee's own account (found by its objectGUID
through the source's service account, so the bind proves that account's password and nobody
else's). Entra ID: the user's own sign-in with the resource-owner password grant (ROPC,
RFC 6749 §4.3) against the source's tenant. Only the employee's own account is checked: a login
naming someone else is refused (:class:`LoginNotTheEmployee`) before the directory is asked.

Our checks must never lock the employee out: wrong passwords are counted per employee in the
short-lived store (shared by every instance), every check *before* the directory is asked, and
after ``max_failures`` of them — never more than the domain's ``lockoutThreshold`` − 1, within
a window never shorter than its ``lockoutObservationWindow`` — checks stop with 429 until the
window ends. A right password clears the count (as the directory's own successful logon does).
A directory that cannot be reached is a 503 with ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import ldap3
from ldap3.utils.conv import escape_filter_chars

from idp.config.directory import DirectorySettings, EntraSource, LdapSource, Source
from idp.directory.passwords import AdPasswords
from idp.directory.sync.entra_source import GraphDirectory
from idp.directory.sync.ldap_source import LdapDirectory, connection_errors, guid_filter_value
from idp.directory.sync.records import DirectoryUnavailable
from idp.directory.sync.store import Link, SyncStore
from idp.errors import AccessDenied, Conflict, IdpError, Unauthorized
from idp.store.ephemeral.base import EphemeralStore

#: Retry-After of a check the directory could not answer
UNAVAILABLE_RETRY_SECONDS = 30
#: Entra ID's smart lockout locks after 10 wrong passwords by default (not readable by an app)
ENTRA_LOCKOUT_THRESHOLD = 10
#: AADSTS codes Entra sends only after the password checked out (MFA or consent still due)
ENTRA_PASSWORD_RIGHT = frozenset({50076, 50079, 50158, 65001})
#: AD intervals are negative counts of 100 ns
_TICKS_PER_SECOND = 10_000_000
AZURE_AD_PREFIX = "azuread\\"
MAX_PASSWORD = 256
_COUNTER = "directory-password-check:"


class LoginNotTheEmployee(AccessDenied):
    """The account's login names another directory account than the employee's own."""

    error = "login_not_the_employee"


class PasswordNotVerifiable(Conflict):
    """The employee or the login has no directory here to check the password against."""

    error = "password_not_verifiable"


class PasswordNotAccepted(Unauthorized):
    """The directory did not accept the password (wrong, or the account cannot sign in)."""

    error = "directory_password_not_accepted"


class TooManyPasswordChecks(IdpError):
    """More wrong passwords than the limit allows in its window (below the AD lockout)."""

    error = "too_many_password_checks"
    status = 429

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class PasswordCheckUnavailable(IdpError):
    """The directory could not be asked (the attempt still counts: we cannot tell whether
    the directory saw it)."""

    error = "directory_unavailable"
    status = 503
    retry_after = UNAVAILABLE_RETRY_SECONDS


@dataclass(frozen=True)
class DirectoryAccount:
    """The employee's own account, as their directory describes it."""

    #: what the bind / sign-in names (AD: the DN; Entra: the UPN)
    principal: str
    #: every login form naming the account, lower-cased (``hideez\\alice``, ``alice@hideez.test``)
    names: frozenset[str]
    #: wrong passwords that lock the account (0: never)
    lockout_threshold: int
    #: how long the directory counts them
    lockout_window: dt.timedelta


class PasswordVerifier(Protocol):
    """One source's side of the check (:class:`AdVerifier`, :class:`EntraVerifier`)."""

    source: str

    def account(self, link: Link) -> DirectoryAccount: ...

    def verify(self, account: DirectoryAccount, password: str) -> str | None:
        """None when the directory accepts the password, else why not (plain words)."""
        ...


@dataclass(frozen=True)
class CheckLimits:
    max_failures: int = 3
    window: dt.timedelta = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class VerifiedPassword:
    employee_id: str
    source: str
    login: str
    at: dt.datetime


def _allowed(limits: CheckLimits, account: DirectoryAccount) -> tuple[int, int]:
    """(wrong passwords we may try, the window in seconds): below the directory's lockout."""
    failures = limits.max_failures
    if account.lockout_threshold > 0:
        failures = min(failures, account.lockout_threshold - 1)
    window = max(limits.window, account.lockout_window)
    return failures, max(1, int(window.total_seconds()))


def verify_directory_password(
    *,
    verifier: PasswordVerifier,
    link: Link,
    login: str,
    password: str,
    counters: EphemeralStore,
    limits: CheckLimits,
    now: dt.datetime,
) -> VerifiedPassword:
    """Check ``password`` for ``login`` of the employee ``link`` names, within the limits."""
    if not password or len(password) > MAX_PASSWORD:
        raise PasswordNotAccepted(f"a password is 1-{MAX_PASSWORD} characters, got {len(password)}")
    account = verifier.account(link)
    typed = login.lower()
    if typed.startswith(AZURE_AD_PREFIX):
        typed = typed.removeprefix(AZURE_AD_PREFIX)
    if typed not in account.names:
        raise LoginNotTheEmployee(
            f"the login {login[:128]!r} is not the employee's own account in {verifier.source} "
            f"(expected one of {', '.join(sorted(account.names))}): only the employee's own "
            "password is checked"
        )
    failures, window = _allowed(limits, account)
    key = f"{_COUNTER}{link.employee_id}"
    tried = counters.incr(key, ttl=window)
    if tried > failures:
        raise TooManyPasswordChecks(
            f"{failures} wrong password(s) were checked for this account within "
            f"{window // 60} minutes; try again later (the directory would lock it out)",
            retry_after=window,
        )
    refusal = verifier.verify(account, password)
    if refusal is not None:
        left = failures - tried
        raise PasswordNotAccepted(
            f"{verifier.source} did not accept the password for {login[:128]}: {refusal} "
            f"({left} more check(s) allowed)"
        )
    counters.delete(key)
    return VerifiedPassword(link.employee_id, verifier.source, login, now)


class DirectoryPasswordCheck:
    """The vault's password check (``VaultService(password_check=…)``): the employee's link
    says which source to ask; each check opens and closes its own connection."""

    def __init__(
        self,
        *,
        settings: DirectorySettings,
        links: SyncStore,
        secret_of: Callable[[Source], str],
        counters: EphemeralStore,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._settings = settings
        self._links = links
        self._secret_of = secret_of
        self._counters = counters
        self._clock = clock
        check = settings.password_check
        self._limits = CheckLimits(check.max_failures, dt.timedelta(minutes=check.window_minutes))

    def __call__(self, employee_id: str, login: str, password: str) -> None:
        link = self._links.link_for(employee_id)
        source = None if link is None else self._settings.source(link.source)
        if link is None or source is None:
            raise PasswordNotVerifiable(
                "the employee was not imported from a configured directory, so the password "
                f"of {login[:128]} cannot be checked; an admin may set it (key-account password)"
            )
        wants_entra = login.lower().startswith(AZURE_AD_PREFIX)
        if wants_entra != isinstance(source, EntraSource):
            kind = "an Entra ID (AzureAD\\…)" if wants_entra else "an Active Directory"
            raise PasswordNotVerifiable(
                f"{login[:128]} is {kind} login, but the employee comes from {source.name} "
                f"({'entra' if isinstance(source, EntraSource) else 'ldap'})"
            )
        try:
            with self._verifier(source) as verifier:
                verify_directory_password(
                    verifier=verifier,
                    link=link,
                    login=login,
                    password=password,
                    counters=self._counters,
                    limits=self._limits,
                    now=self._clock(),
                )
        except DirectoryUnavailable as exc:
            raise PasswordCheckUnavailable(exc.description) from None

    @contextmanager
    def _verifier(self, source: Source) -> Iterator[PasswordVerifier]:
        secret = self._secret_of(source)
        if isinstance(source, LdapSource):
            ldap = LdapDirectory(source, password=secret)
            try:
                yield AdVerifier(ldap, clock=self._clock)
            finally:
                ldap.close()
            return
        graph = GraphDirectory(source, secret=secret)
        try:
            yield EntraVerifier(graph)
        finally:
            graph.close()


class AdVerifier:
    """Active Directory: the account by objectGUID (service account), then a simple bind as
    that account; the domain's lockout policy and NetBIOS name from the directory itself."""

    def __init__(self, directory: LdapDirectory, *, clock: Callable[[], dt.datetime]) -> None:
        self.directory = directory
        self.source = directory.settings.name
        self._reader = AdPasswords(directory, clock=clock)

    def _read(self, base: str, query: str, attributes: list[str], scope: str) -> dict[str, str]:
        try:
            found = self._reader.read(base, query, attributes, scope=scope)
        except connection_errors() as exc:
            raise PasswordCheckUnavailable(
                f"the connection to {self.directory.settings.url} dropped: {type(exc).__name__}"
            ) from None
        return found or {}

    def account(self, link: Link) -> DirectoryAccount:
        user = self._read(
            self.directory.settings.base_dn,
            f"(objectGUID={guid_filter_value(link.external_key)})",
            ["sAMAccountName", "userPrincipalName"],
            ldap3.SUBTREE,
        )
        if not user.get("sAMAccountName"):
            raise PasswordNotVerifiable(f"the employee's account is no longer in {self.source}")
        root = self._read(
            "",
            "(objectClass=*)",
            ["defaultNamingContext", "configurationNamingContext"],
            ldap3.BASE,
        )
        domain_dn = root.get("defaultNamingContext", "")
        policy = self._read(
            domain_dn,
            "(objectClass=*)",
            ["lockoutThreshold", "lockoutObservationWindow"],
            ldap3.BASE,
        )
        crossref = self._read(
            f"CN=Partitions,{root.get('configurationNamingContext', '')}",
            f"(&(objectClass=crossRef)(nCName={escape_filter_chars(domain_dn)}))",
            ["nETBIOSName", "dnsRoot"],
            ldap3.LEVEL,
        )
        sam = user["sAMAccountName"].lower()
        domains = (crossref.get("nETBIOSName"), crossref.get("dnsRoot"))
        names = {f"{domain.lower()}\\{sam}" for domain in domains if domain}
        if user.get("userPrincipalName"):
            names.add(user["userPrincipalName"].lower())
        ticks = abs(int(policy.get("lockoutObservationWindow") or 0))
        return DirectoryAccount(
            principal=user.get("userPrincipalName") or user["dn"],
            names=frozenset(names),
            lockout_threshold=int(policy.get("lockoutThreshold") or 0),
            lockout_window=dt.timedelta(seconds=ticks / _TICKS_PER_SECOND),
        )

    def verify(self, account: DirectoryAccount, password: str) -> str | None:
        try:
            self.directory.bind(account.principal, password).unbind()
        except DirectoryUnavailable:
            raise
        except IdpError as exc:
            return exc.description
        return None


class EntraVerifier:
    """Entra ID: the user by object id (Graph, app token), then the user's own sign-in."""

    def __init__(self, graph: GraphDirectory) -> None:
        self.graph = graph
        self.source = graph.source

    def account(self, link: Link) -> DirectoryAccount:
        user = self.graph.user(link.external_key)
        if user is None or not user.upn:
            raise PasswordNotVerifiable(f"the employee's account is no longer in {self.source}")
        return DirectoryAccount(
            principal=user.upn,
            names=frozenset({user.upn.lower()}),
            lockout_threshold=ENTRA_LOCKOUT_THRESHOLD,
            lockout_window=dt.timedelta(0),
        )

    def verify(self, account: DirectoryAccount, password: str) -> str | None:
        answer = self.graph.sign_in_as(account.principal, password)
        if answer.get("access_token"):
            return None
        codes = {c for c in answer.get("error_codes") or () if isinstance(c, int)}
        if codes & ENTRA_PASSWORD_RIGHT:
            return None
        if not answer.get("error") or answer.get("error") == "temporarily_unavailable":
            raise PasswordCheckUnavailable(
                f"the token endpoint of {self.source} gave no answer we can read"
            )
        text = str(answer.get("error_description") or answer.get("error"))
        return text.splitlines()[0][:300]


def directory_password_check(
    *,
    settings: DirectorySettings | None,
    links: SyncStore,
    secret_of: Callable[[Source], str],
    counters: EphemeralStore,
    clock: Callable[[], dt.datetime],
) -> DirectoryPasswordCheck | None:
    """The check, when a directory is configured (without one, nothing can be checked)."""
    if settings is None or not settings.sources:
        return None
    return DirectoryPasswordCheck(
        settings=settings, links=links, secret_of=secret_of, counters=counters, clock=clock
    )
