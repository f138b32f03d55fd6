"""Kafka mTLS client certificates and SASL/OAUTHBEARER: settings, both clients, the token source.

Pure: no broker. Certificates are made with ``openssl`` in a temporary folder
and proven by a real TLS handshake over a local socket pair; the token endpoint
is an ``httpx.MockTransport``.
"""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from streams.kafka_config import KafkaTLSError, kafka_python_config, ssl_context
from streams.kafka_oauth import (
    ClientCredentialsTokenSource,
    OAuthTokenError,
    aiokafka_token_provider,
)
from streams.settings import Settings

TOKEN_URL = "https://idp.example/oauth2/token"
SECRET = "client-s3cret"
OAUTH: dict[str, Any] = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "OAUTHBEARER",
    "kafka_oauth_token_url": TOKEN_URL,
    "kafka_oauth_client_id": "townsquare",
    "kafka_oauth_client_secret": SECRET,
}


@pytest.fixture(autouse=True)
def _no_kafka_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own TOWNSQUARE_KAFKA_* must not leak into these settings."""
    import os

    for name in list(os.environ):
        if name.startswith("TOWNSQUARE_KAFKA_"):
            monkeypatch.delenv(name)


# --- certificates -------------------------------------------------------------------


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed localhost certificate (its own CA), with a plain and an encrypted key."""
    folder = tmp_path_factory.mktemp("pki")
    cert, key, enc = folder / "client.crt", folder / "client.key", folder / "client-enc.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
        "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
    )  # fmt: skip
    _openssl("pkey", "-in", str(key), "-aes256", "-passout", "pass:hunter2", "-out", str(enc))
    return {"cert": cert, "key": key, "enc": enc}


def _mtls(pki: dict[str, Path], **extra: Any) -> Settings:
    fields: dict[str, Any] = {
        "kafka_security_protocol": "SSL",
        "kafka_ssl_cafile": pki["cert"],
        "kafka_ssl_certfile": pki["cert"],
        "kafka_ssl_keyfile": pki["key"],
    }
    return Settings(**{**fields, **extra})


def _client_cert_seen_by_server(client: ssl.SSLContext, pki: dict[str, Path]) -> Any:
    """Handshake with a server that requires a client certificate; what it saw of ours."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki["cert"], pki["key"])
    server.load_verify_locations(pki["cert"])
    server.verify_mode = ssl.CERT_REQUIRED
    left, right = socket.socketpair()
    seen: dict[str, Any] = {}

    def serve() -> None:
        try:
            with server.wrap_socket(right, server_side=True) as tls:
                seen["peer"] = tls.getpeercert()
        except (ssl.SSLError, OSError) as exc:
            seen["error"] = exc

    thread = threading.Thread(target=serve)
    thread.start()
    left.settimeout(10)
    try:
        with client.wrap_socket(left, server_hostname="localhost") as tls:
            tls.getpeercert()
            tls.recv(1)  # TLS 1.3: wait for the server's verdict on our certificate
    except (ssl.SSLError, OSError):
        pass
    thread.join(10)
    return seen.get("peer")


def test_ssl_context_presents_the_client_certificate(pki: dict[str, Path]) -> None:
    peer = _client_cert_seen_by_server(ssl_context(_mtls(pki)), pki)
    assert peer is not None, "the server did not accept a client certificate"
    assert dict(pair[0] for pair in peer["subject"])["commonName"] == "localhost"


def test_without_a_client_certificate_the_server_refuses(pki: dict[str, Path]) -> None:
    settings = Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=pki["cert"])
    assert _client_cert_seen_by_server(ssl_context(settings), pki) is None


def test_an_encrypted_key_loads_with_its_password(pki: dict[str, Path]) -> None:
    settings = _mtls(pki, kafka_ssl_keyfile=pki["enc"], kafka_ssl_key_password="hunter2")
    assert _client_cert_seen_by_server(ssl_context(settings), pki) is not None
    assert "hunter2" not in repr(settings)


def test_an_encrypted_key_without_its_password_is_a_clear_error(pki: dict[str, Path]) -> None:
    with pytest.raises(KafkaTLSError, match="TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD"):
        ssl_context(_mtls(pki, kafka_ssl_keyfile=pki["enc"]))
    with pytest.raises(KafkaTLSError, match="TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD") as caught:
        ssl_context(_mtls(pki, kafka_ssl_keyfile=pki["enc"], kafka_ssl_key_password="wrong"))
    assert "wrong" not in str(caught.value)


def test_a_missing_certificate_file_is_a_clear_error(pki: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(KafkaTLSError, match="TOWNSQUARE_KAFKA_SSL_CERTFILE"):
        ssl_context(_mtls(pki, kafka_ssl_certfile=tmp_path / "nope.crt"))


def test_kafka_python_gets_the_context_with_the_certificate(pki: dict[str, Path]) -> None:
    config = kafka_python_config(_mtls(pki))
    assert config["security_protocol"] == "SSL"
    assert isinstance(config["ssl_context"], ssl.SSLContext)
    assert _client_cert_seen_by_server(config["ssl_context"], pki) is not None


def test_faust_gets_the_context_with_the_certificate(pki: dict[str, Path]) -> None:
    from faust.auth import SASLCredentials, SSLCredentials

    from streams.worker.faust_config import faust_credentials

    ssl_credentials = faust_credentials(_mtls(pki))
    assert isinstance(ssl_credentials, SSLCredentials)
    assert _client_cert_seen_by_server(ssl_credentials.context, pki) is not None

    sasl = faust_credentials(
        _mtls(
            pki,
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="u",
            kafka_sasl_password="p",
        )
    )
    assert isinstance(sasl, SASLCredentials) and sasl.ssl_context is not None
    assert _client_cert_seen_by_server(sasl.ssl_context, pki) is not None


# --- settings validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "c.pem"},
            "TOWNSQUARE_KAFKA_SSL_CERTFILE is set but TOWNSQUARE_KAFKA_SSL_KEYFILE is not",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "k.pem"},
            "TOWNSQUARE_KAFKA_SSL_KEYFILE is set but TOWNSQUARE_KAFKA_SSL_CERTFILE is not",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_key_password": "pw"},
            "TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD is set but TOWNSQUARE_KAFKA_SSL_KEYFILE is not",
        ),
        (
            {"kafka_ssl_certfile": "c.pem", "kafka_ssl_keyfile": "k.pem"},
            "TOWNSQUARE_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL",
        ),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_ssl_certfile": "c.pem",
                "kafka_ssl_keyfile": "k.pem",
            },
            "TOWNSQUARE_KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT, which does not use TLS",
        ),
        (
            {**OAUTH, "kafka_security_protocol": "SSL"},
            "OAUTHBEARER is a SASL mechanism but TOWNSQUARE_KAFKA_SECURITY_PROTOCOL is SSL",
        ),
        (
            {**OAUTH, "kafka_security_protocol": "PLAINTEXT"},
            "TOWNSQUARE_KAFKA_SECURITY_PROTOCOL is PLAINTEXT: set it to SASL_SSL",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "OAUTHBEARER"},
            "TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL, TOWNSQUARE_KAFKA_OAUTH_CLIENT_ID, "
            "TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET are unset",
        ),
        (
            {**OAUTH, "kafka_oauth_client_secret": ""},
            "TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET is unset",
        ),
        (
            {**OAUTH, "kafka_oauth_token_url": "idp.example/token"},
            "TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL must be an http(s) URL",
        ),
    ],
)
def test_inconsistent_kafka_security_settings_are_refused(
    fields: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**fields)
    (error,) = caught.value.errors()
    assert expected in error["msg"]
    assert SECRET not in error["msg"]


def test_consistent_settings_are_accepted() -> None:
    Settings(kafka_security_protocol="SSL", kafka_ssl_certfile="c", kafka_ssl_keyfile="k")
    Settings(
        **{**OAUTH, "kafka_ssl_certfile": "c", "kafka_ssl_keyfile": "k", "kafka_oauth_scope": "s"}
    )
    Settings(**{**OAUTH, "kafka_security_protocol": "SASL_PLAINTEXT"})


def test_secrets_come_from_files_and_stay_out_of_reprs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_text(SECRET + "\n", encoding="utf-8")
    (tmp_path / "pw").write_text("hunter2\n", encoding="utf-8")
    monkeypatch.setenv("TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD_FILE", str(tmp_path / "pw"))
    fields = {k: v for k, v in OAUTH.items() if k != "kafka_oauth_client_secret"}
    settings = Settings(**fields, kafka_ssl_certfile="c", kafka_ssl_keyfile="k")
    assert settings.kafka_oauth_client_secret == SecretStr(SECRET)
    assert settings.kafka_ssl_key_password == SecretStr("hunter2")
    for text in (repr(settings), str(settings)):
        assert SECRET not in text and "hunter2" not in text


# --- OAUTHBEARER wiring -------------------------------------------------------------------


def test_kafka_python_gets_an_oauth_token_provider() -> None:
    from kafka.net.sasl.oauth import AbstractTokenProvider, SaslMechanismOAuth

    config = kafka_python_config(Settings(**OAUTH))
    assert config["sasl_mechanism"] == "OAUTHBEARER"
    assert isinstance(config["sasl_oauth_token_provider"], AbstractTokenProvider)
    assert "sasl_plain_password" not in config and "sasl_plain_username" not in config
    assert isinstance(config["ssl_context"], ssl.SSLContext)
    SaslMechanismOAuth(**config)  # kafka-python's own check of the provider
    assert SECRET not in repr(config)


def test_faust_gets_oauth_credentials_aiokafka_accepts() -> None:
    from aiokafka.abc import AbstractTokenProvider
    from faust.auth import OAuthCredentials
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from streams.worker.faust_config import faust_credentials

    credentials = faust_credentials(Settings(**OAUTH))
    assert isinstance(credentials, OAuthCredentials)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "OAUTHBEARER"
    assert isinstance(auth["sasl_oauth_token_provider"], AbstractTokenProvider)
    assert isinstance(auth["ssl_context"], ssl.SSLContext)
    plain = faust_credentials(Settings(**{**OAUTH, "kafka_security_protocol": "SASL_PLAINTEXT"}))
    assert credentials_to_aiokafka_auth(plain)["security_protocol"] == "SASL_PLAINTEXT"
    assert SECRET not in repr(credentials) + repr(auth)


# --- the token source ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Endpoint:
    """A token endpoint: records requests, answers with ``answer(n)`` for the n-th."""

    def __init__(self, answer: Callable[[int], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer or (
            lambda n: httpx.Response(
                200, json={"access_token": f"tok-{n}", "token_type": "Bearer", "expires_in": 3600}
            )
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(len(self.requests))


def _source(endpoint: Endpoint, clock: Clock, scope: str | None = "kafka") -> Any:
    return ClientCredentialsTokenSource(
        TOKEN_URL,
        "townsquare",
        SecretStr(SECRET),
        scope,
        transport=httpx.MockTransport(endpoint),
        clock=clock,
    )


def test_the_token_is_fetched_with_client_credentials_and_basic_auth() -> None:
    endpoint = Endpoint()
    assert _source(endpoint, Clock()).token() == "tok-1"
    (request,) = endpoint.requests
    assert request.method == "POST" and str(request.url) == TOKEN_URL
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["kafka"],
    }
    expected = base64.b64encode(f"townsquare:{SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_no_scope_is_sent_when_none_is_set() -> None:
    endpoint = Endpoint()
    _source(endpoint, Clock(), scope=None).token()
    assert parse_qs(endpoint.requests[0].content.decode()) == {"grant_type": ["client_credentials"]}


def test_the_token_is_cached_then_refreshed_before_it_expires() -> None:
    endpoint, clock = Endpoint(), Clock()
    source = _source(endpoint, clock)
    assert [source.token(), source.token()] == ["tok-1", "tok-1"]
    clock.now += 3600 - 61  # still more than the 60 s margin left
    assert source.token() == "tok-1"
    clock.now += 2  # inside the margin: replaced before it lapses
    assert source.token() == "tok-2"
    assert len(endpoint.requests) == 2


def test_a_short_lived_token_is_reused_for_half_its_life() -> None:
    endpoint = Endpoint(
        lambda n: httpx.Response(200, json={"access_token": f"t{n}", "expires_in": 30})
    )
    clock = Clock()
    source = _source(endpoint, clock)
    assert source.token() == "t1"
    clock.now += 14
    assert source.token() == "t1"
    clock.now += 2
    assert source.token() == "t2"


def test_a_token_without_expires_in_is_not_reused() -> None:
    endpoint = Endpoint(lambda n: httpx.Response(200, json={"access_token": f"t{n}"}))
    source = _source(endpoint, Clock())
    assert [source.token(), source.token()] == ["t1", "t2"]


def test_a_refusal_is_a_clear_error_without_the_secret() -> None:
    endpoint = Endpoint(
        lambda n: httpx.Response(
            401, json={"error": "invalid_client", "error_description": "bad client"}
        )
    )
    with pytest.raises(OAuthTokenError) as caught:
        _source(endpoint, Clock()).token()
    message = str(caught.value)
    assert "HTTP 401" in message and TOKEN_URL in message
    assert "invalid_client: bad client" in message
    assert "TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET" in message
    assert SECRET not in message


def test_an_answer_without_access_token_is_a_clear_error() -> None:
    endpoint = Endpoint(lambda n: httpx.Response(200, json={"token_type": "Bearer"}))
    with pytest.raises(OAuthTokenError, match="without an access_token"):
        _source(endpoint, Clock()).token()
    html = Endpoint(lambda n: httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(OAuthTokenError, match="without a JSON body"):
        _source(html, Clock()).token()


def test_a_timeout_is_a_clear_error() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    source = ClientCredentialsTokenSource(
        TOKEN_URL, "townsquare", SecretStr(SECRET), transport=httpx.MockTransport(hang)
    )
    with pytest.raises(OAuthTokenError, match=r"did not answer within 10 s"):
        source.token()


def test_the_source_repr_hides_the_secret_and_the_token() -> None:
    source = _source(Endpoint(), Clock())
    source.token()
    assert SECRET not in repr(source) and "tok-1" not in repr(source)
    assert "townsquare" in repr(source)


async def test_the_aiokafka_provider_awaits_the_same_cached_token() -> None:
    endpoint = Endpoint()
    provider = aiokafka_token_provider(_source(endpoint, Clock()))
    assert await provider.token() == "tok-1"
    assert await provider.token() == "tok-1"
    assert provider.extensions() == {}
    assert len(endpoint.requests) == 1


def test_a_refused_setting_does_not_print_the_other_settings_secrets() -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError) as caught:
        Settings(
            es_password="hunter2-not-to-be-printed",
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="OAUTHBEARER",
        )
    assert "hunter2-not-to-be-printed" not in str(caught.value)
