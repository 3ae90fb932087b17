"""Front-Channel Logout 1.0 and Back-Channel Logout 1.0 in the core: the Logout Token (checked
independently with PyJWT against our published JWKS), front-channel URLs, the participant
encoding, the logout plan, discovery, and the ``sid`` every id_token carries."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import jwt as pyjwt
import pytest

from idp.config.oidc import Lifetimes, OidcKeyFiles, OidcSettings
from idp.keys import KeySet
from idp.oidc.clients import Client, ClientCredentials, ClientRegistry
from idp.oidc.errors import LogoutChannelError
from idp.oidc.grants import Grant, GrantStore
from idp.oidc.keys import OidcKeys, keys_from_signing_keys
from idp.oidc.logout_channels import (
    BACKCHANNEL_LOGOUT_EVENT,
    OidcParticipant,
    build_logout_token,
    frontchannel_logout_url,
    plan_oidc_logout,
)
from idp.oidc.provider import OidcProvider
from idp.oidc.store import SqlRefreshFamilies
from idp.oidc.tokens import subject_for
from idp.sessions import session_handle
from idp.store.ephemeral.memory import MemoryStore
from idp.store.sql import Database, EmployeeRepository
from tests.conftest import KeyMaker
from tests.store.sql.helpers import employee

ISSUER = "https://idp.example.com"
SECRET = "s" * 40
SALT = "pairwise-salt-for-tests"


@pytest.fixture(scope="module")
def keys(test_keys: KeyMaker) -> OidcKeys:
    return keys_from_signing_keys(
        KeySet(test_keys("logout-rsa"), test_keys("logout-rsa-next")),
        KeySet(test_keys("logout-ec", kind="ec")),
    )


def client(client_id: str = "rp-one", **changes: object) -> Client:
    values: dict[str, object] = dict(
        client_id=client_id, name=f"RP {client_id}", redirect_uris=("https://rp.example/cb",),
        token_endpoint_auth_method="client_secret_post", secret=SECRET,
        backchannel_logout_uri="https://rp.example/backchannel",
    )  # fmt: skip
    values.update(changes)
    return Client(**values)  # type: ignore[arg-type]


def verified(
    token: str, keys: OidcKeys, audience: str, alg: str = "RS256", *, logout: bool = True
) -> dict[str, object]:
    """The claims as an independent RP library sees them, signature checked via our JWKS."""
    required = ["iss", "aud", "iat", "exp", "jti", "events"] if logout else ["iss", "aud", "exp"]
    jwks = pyjwt.PyJWKSet.from_dict(keys.jwks())
    kid = pyjwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims: dict[str, object] = pyjwt.decode(
        token, key=key.key, algorithms=[alg], audience=audience, issuer=ISSUER,
        options={"require": required},
    )  # fmt: skip
    return claims


# -- the Logout Token (Back-Channel §2.4) -----------------------------------------------------


def test_logout_token_verifies_with_pyjwt_and_has_exactly_the_section_2_4_claims(
    keys: OidcKeys,
) -> None:
    now = dt.datetime.now(dt.UTC)
    token = build_logout_token(
        client=client(), subject="emp-1", sid="sid-of-the-session", issuer=ISSUER, keys=keys,
        now=now,
    )  # fmt: skip
    header = pyjwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"] == keys.current["RS256"].kid, "signed with the current key, not next"
    claims = verified(token, keys, "rp-one")
    assert set(claims) == {"iss", "aud", "iat", "exp", "jti", "events", "sub", "sid"}
    assert claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
    assert claims["sub"] == "emp-1" and claims["sid"] == "sid-of-the-session"
    assert claims["iat"] == int(now.timestamp())
    assert claims["exp"] == int(now.timestamp()) + 120, "short-lived: two minutes"
    assert "nonce" not in claims


def test_each_logout_token_has_its_own_jti_and_honours_the_lifetime(keys: OidcKeys) -> None:
    now = dt.datetime.now(dt.UTC)
    tokens = [
        build_logout_token(
            client=client(),
            subject="emp-1",
            sid=None,
            issuer=ISSUER,
            keys=keys,
            now=now,
            lifetime=30,
        )
        for _ in range(5)
    ]
    claims = [verified(t, keys, "rp-one") for t in tokens]
    assert len({c["jti"] for c in claims}) == 5
    assert all(c["exp"] == c["iat"] + 30 for c in claims)  # type: ignore[operator]
    assert all("sid" not in c for c in claims), "sub alone asks the RP to end every session"


def test_logout_token_follows_the_clients_id_token_algorithm(keys: OidcKeys) -> None:
    now = dt.datetime.now(dt.UTC)
    rp = client(id_token_signed_response_alg="ES256")
    token = build_logout_token(client=rp, subject=None, sid="only-sid", issuer=ISSUER,
                               keys=keys, now=now)  # fmt: skip
    assert pyjwt.get_unverified_header(token)["alg"] == "ES256"
    claims = verified(token, keys, "rp-one", alg="ES256")
    assert claims["sid"] == "only-sid" and "sub" not in claims


def test_logout_token_refuses_what_the_registration_does_not_allow(keys: OidcKeys) -> None:
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(LogoutChannelError, match="no backchannel_logout_uri"):
        build_logout_token(client=client(backchannel_logout_uri=None), subject="e", sid="s",
                           issuer=ISSUER, keys=keys, now=now)  # fmt: skip
    with pytest.raises(LogoutChannelError, match="sub or sid"):
        build_logout_token(client=client(), subject=None, sid=None, issuer=ISSUER, keys=keys,
                           now=now)  # fmt: skip
    with pytest.raises(LogoutChannelError, match="requires sid") as caught:
        build_logout_token(client=client(backchannel_logout_session_required=True),
                           subject="e", sid=None, issuer=ISSUER, keys=keys, now=now)  # fmt: skip
    assert caught.value.error == "server_error" and not caught.value.redirectable


def test_a_logout_token_is_not_an_id_token_to_a_strict_verifier(keys: OidcKeys) -> None:
    """An RP that checks ``typ`` (RFC 8725 §3.11) can tell the two apart."""
    now = dt.datetime.now(dt.UTC)
    token = build_logout_token(client=client(), subject="e", sid="s", issuer=ISSUER, keys=keys,
                               now=now)  # fmt: skip
    id_token = keys.sign({"iss": ISSUER, "sub": "e", "aud": "rp-one"})
    assert pyjwt.get_unverified_header(id_token)["typ"] == "JWT"
    assert pyjwt.get_unverified_header(token)["typ"] != "JWT"


# -- front-channel URL (Front-Channel §3) -----------------------------------------------------


def test_frontchannel_url_adds_iss_and_sid_only_when_required() -> None:
    plain = client(frontchannel_logout_uri="https://rp.example/fc")
    assert frontchannel_logout_url(client=plain, issuer=ISSUER, sid="abc") == (
        "https://rp.example/fc"
    )
    strict = client(frontchannel_logout_uri="https://rp.example/fc?tenant=a&x=1",
                    frontchannel_logout_session_required=True)  # fmt: skip
    url = frontchannel_logout_url(client=strict, issuer=ISSUER, sid="abc/+=")
    query = parse_qs(urlsplit(url).query)
    assert query == {"tenant": ["a"], "x": ["1"], "iss": [ISSUER], "sid": ["abc/+="]}
    assert url.startswith("https://rp.example/fc?tenant=a&x=1&iss="), "the query is kept"


def test_frontchannel_url_refuses_a_missing_channel_or_session() -> None:
    with pytest.raises(LogoutChannelError, match="no frontchannel_logout_uri"):
        frontchannel_logout_url(client=client(), issuer=ISSUER, sid="s")
    strict = client(frontchannel_logout_uri="https://rp.example/fc",
                    frontchannel_logout_session_required=True)  # fmt: skip
    with pytest.raises(LogoutChannelError, match="requires iss and sid"):
        frontchannel_logout_url(client=strict, issuer=ISSUER, sid=None)


# -- participants and the plan ----------------------------------------------------------------


def test_participant_encoding_is_what_sessions_record_today_and_round_trips() -> None:
    participant = OidcParticipant.for_session(client_id="gitlab", session_id="x" * 43)
    assert participant.sid == session_handle("x" * 43)
    assert participant.encode() == f"oidc:gitlab|{session_handle('x' * 43)}"
    assert OidcParticipant.decode(participant.encode()) == participant


@pytest.mark.parametrize(
    "value",
    [
        'saml:["https://sp", "n", "i"]', "wsfed|owa", "oidc:", "oidc:gitlab",
        "oidc:|abcdefghijklmnopqrstuv", "oidc:gitlab|short", "oidc:git|lab|abcdefghijklmnopqrstuv",
        "oidc:gi|abcdefghijklmnopqrstuv",
        "oidc:gitlab|abcdefghijklmnopqrst<v", "OIDC:gitlab|abcdefghijklmnopqrstuv",
        "oidc:" + "a" * 129 + "|abcdefghijklmnopqrstuv",
    ],
)  # fmt: skip
def test_other_protocols_and_malformed_participants_decode_to_none(value: str) -> None:
    assert OidcParticipant.decode(value) is None


def test_plan_covers_each_channel_once_and_names_clients_it_cannot_tell(keys: OidcKeys) -> None:
    both = client("both-rp", frontchannel_logout_uri="https://rp.example/fc",
                  frontchannel_logout_session_required=True,
                  backchannel_logout_session_required=True)  # fmt: skip
    pairwise = client("pairwise-rp", subject_type="pairwise")
    silent = client("silent-rp", backchannel_logout_uri=None)
    registry = ClientRegistry({c.client_id: c for c in (both, pairwise, silent)})
    session_id = "session-" + "q" * 35
    sid = session_handle(session_id)
    recorded = [
        OidcParticipant.for_session(client_id=c, session_id=session_id).encode()
        for c in ("both-rp", "pairwise-rp", "silent-rp", "gone-rp", "both-rp")
    ]
    recorded[2:2] = ['saml:["https://sp","n","i"]', "wsfed|owa"]
    now = dt.datetime.now(dt.UTC)
    plan = plan_oidc_logout(participants=recorded, registry=registry, issuer=ISSUER, keys=keys,
                            employee_id="emp-7", pairwise_salt=SALT, now=now)  # fmt: skip
    assert [f.client_id for f in plan.frontchannel] == ["both-rp"]
    assert parse_qs(urlsplit(plan.frontchannel[0].url).query) == {"iss": [ISSUER], "sid": [sid]}
    assert plan.frontchannel_origins == ("https://rp.example",)
    assert [b.client_id for b in plan.backchannel] == ["both-rp", "pairwise-rp"]
    assert plan.not_notified == ("silent-rp", "gone-rp")
    first = verified(plan.backchannel[0].logout_token, keys, "both-rp")
    assert first["sid"] == sid and first["sub"] == "emp-7"
    second = verified(plan.backchannel[1].logout_token, keys, "pairwise-rp")
    assert second["sub"] == subject_for(pairwise, "emp-7", salt=SALT) != "emp-7"
    assert plan.backchannel[1].uri == "https://rp.example/backchannel"


def test_plan_without_a_known_owner_sends_sid_alone(keys: OidcKeys) -> None:
    registry = ClientRegistry({"rp-one": client()})
    recorded = [OidcParticipant.for_session(client_id="rp-one", session_id="z" * 40).encode()]
    plan = plan_oidc_logout(participants=recorded, registry=registry, issuer=ISSUER, keys=keys,
                            employee_id=None, pairwise_salt=SALT,
                            now=dt.datetime.now(dt.UTC))  # fmt: skip
    claims = verified(plan.backchannel[0].logout_token, keys, "rp-one")
    assert "sub" not in claims and claims["sid"] == session_handle("z" * 40)


def test_plan_of_a_session_without_oidc_clients_is_empty(keys: OidcKeys) -> None:
    plan = plan_oidc_logout(participants=["wsfed|owa"], registry=ClientRegistry({}),
                            issuer=ISSUER, keys=keys, employee_id="e", pairwise_salt=SALT,
                            now=dt.datetime.now(dt.UTC))  # fmt: skip
    assert plan.frontchannel == () and plan.backchannel == () and plan.not_notified == ()


# -- the provider: discovery and the sid of id_tokens -----------------------------------------


@pytest.fixture
def provider(keys: OidcKeys, db: Database) -> OidcProvider:
    EmployeeRepository(db).add(employee(1), now=dt.datetime.now(dt.UTC))
    person = employee(1)
    settings = OidcSettings(
        issuer=ISSUER, base_url=ISSUER, keys=OidcKeyFiles(), lifetimes=Lifetimes(),
        clients=ClientRegistry({"rp-one": client(), "rp-two": client("rp-two")}),
        pairwise_salt=SALT,
    )  # fmt: skip
    store = MemoryStore()
    return OidcProvider(
        settings=settings, keys=keys,
        grants=GrantStore(store, families=SqlRefreshFamilies(db)), store=store,
        employees=lambda employee_id: person if employee_id == person.id else None,
    )  # fmt: skip


def test_discovery_advertises_both_logout_channels_with_sessions(provider: OidcProvider) -> None:
    document = provider.discovery()
    advertised = {k: v for k, v in document.items() if "channel_logout" in k}
    assert advertised == {
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
    }


def _sign_in(provider: OidcProvider, client_id: str, session_id: str) -> dict[str, object]:
    """Token response for a code issued to ``client_id`` in the IdP session ``session_id``."""
    now = dt.datetime.now(dt.UTC)
    grant = Grant(
        grant_id=f"g-{client_id}-{session_id[:6]}", client_id=client_id, employee_id="emp-1",
        session_id=session_id, scopes=("openid",), auth_time=now.timestamp(), acr="urn:acr",
        amr=("fido",), redirect_uri="https://rp.example/cb",
    )  # fmt: skip
    code = provider.grants.issue_code(grant)
    form = {"grant_type": ["authorization_code"], "code": [code],
            "redirect_uri": ["https://rp.example/cb"]}  # fmt: skip
    return provider.token(form, credentials=_credentials(client_id), now=now)


def _credentials(client_id: str) -> ClientCredentials:
    return ClientCredentials(client_id=client_id, client_secret=SECRET)


def test_id_tokens_carry_a_sid_stable_per_session_and_matching_the_participant(
    provider: OidcProvider, keys: OidcKeys
) -> None:
    session_a, session_b = "a" * 43, "b" * 43
    first = _sign_in(provider, "rp-one", session_a)
    claims = verified(str(first["id_token"]), keys, "rp-one", logout=False)
    assert claims["sid"] == OidcParticipant.for_session(client_id="rp-one",
                                                        session_id=session_a).sid  # fmt: skip
    assert session_a not in str(claims["sid"]), "sid never reveals the session id"
    refreshed = provider.token(
        {"grant_type": ["refresh_token"], "refresh_token": [str(first["refresh_token"])]},
        credentials=_credentials("rp-one"), now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    refreshed_claims = verified(str(refreshed["id_token"]), keys, "rp-one", logout=False)
    assert refreshed_claims["sid"] == claims["sid"], "a refresh keeps the session's sid"
    other_client = verified(
        str(_sign_in(provider, "rp-two", session_a)["id_token"]), keys, "rp-two", logout=False
    )
    assert other_client["sid"] == claims["sid"], "one IdP session, one sid"
    other_session = verified(
        str(_sign_in(provider, "rp-one", session_b)["id_token"]), keys, "rp-one", logout=False
    )
    assert other_session["sid"] != claims["sid"]


def test_provider_logout_plan_names_the_sid_its_id_tokens_carried(
    provider: OidcProvider, keys: OidcKeys
) -> None:
    session_id = "c" * 43
    id_token = verified(
        str(_sign_in(provider, "rp-one", session_id)["id_token"]), keys, "rp-one", logout=False
    )
    recorded = [OidcParticipant.for_session(client_id="rp-one", session_id=session_id).encode()]
    plan = provider.logout_plan(participants=recorded, employee_id="emp-1",
                                now=dt.datetime.now(dt.UTC))  # fmt: skip
    logout = verified(plan.backchannel[0].logout_token, keys, "rp-one")
    assert (logout["sid"], logout["sub"]) == (id_token["sid"], id_token["sub"])
