"""OAuth 2.0 client-credentials tokens for Kafka's SASL/OAUTHBEARER, for both our clients.

Managed Kafka services (and Kafka clusters behind an identity provider) hand out
short-lived bearer tokens instead of passwords: the client proves who it is to
the token endpoint with a client id and secret and presents the token it gets
back to the brokers. :class:`ClientCredentialsTokenSource` does that exchange
(RFC 6749, section 4.4), keeps the token and fetches a new one shortly before
it expires, so that every new broker connection gets a valid token without a
round trip to the identity provider each time.

The two Kafka clients want the token differently: kafka-python calls a
synchronous ``token()`` from its network thread, aiokafka (under Faust) awaits
an asynchronous one on the event loop. :func:`kafka_python_token_provider` and
:func:`aiokafka_token_provider` wrap the one source for each. aiokafka is only
imported when the latter is called, so the ingest side, which imports this
module through :mod:`streams.kafka_config`, never loads it.

Secrets (the client secret, the token) never appear in errors, reprs or logs.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx
from pydantic import SecretStr

from streams.settings import Settings, redact_url

try:  # kafka-python 3.x
    from kafka.net.sasl.oauth import AbstractTokenProvider as _KafkaAbstractTokenProvider
except ImportError:  # pragma: no cover - kafka-python 2.1/2.2, then 2.0
    try:
        from kafka.sasl.oauth import AbstractTokenProvider as _KafkaAbstractTokenProvider
    except ImportError:
        from kafka.oauth.abstract import AbstractTokenProvider as _KafkaAbstractTokenProvider

DEFAULT_TIMEOUT = 10.0
"""Seconds for one token request: long enough for a slow identity provider, short enough
that a client blocked on it gives up (and retries) well before Kafka's own timeouts."""

DEFAULT_REFRESH_MARGIN = 60.0
"""Seconds before a token's expiry at which it is replaced, so a connection opened just
before expiry does not present a token that lapses during the handshake."""

_HINT = (
    "check TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL, TOWNSQUARE_KAFKA_OAUTH_CLIENT_ID, "
    "TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET and TOWNSQUARE_KAFKA_OAUTH_SCOPE"
)


class OAuthTokenError(RuntimeError):
    """The token endpoint could not be reached or did not hand out a token."""


class ClientCredentialsTokenSource:
    """Fetches, caches and refreshes one bearer token with the client-credentials grant.

    Thread-safe: kafka-python's network thread and the worker's executor threads
    may ask at the same time, and only one of them fetches.

    ``transport`` and ``clock`` exist for tests (an ``httpx.MockTransport``, a fake
    monotonic clock); production uses httpx's default transport and
    :func:`time.monotonic`, which does not jump with wall-clock changes.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._timeout = timeout
        self._refresh_margin = refresh_margin
        self._transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        self._token: SecretStr | None = None
        self._refresh_at = 0.0

    def __repr__(self) -> str:
        """Names the endpoint and client, never the secret or the token."""
        return (
            f"{type(self).__name__}(token_url={redact_url(self._token_url)!r}, "
            f"client_id={self._client_id!r}, scope={self._scope!r})"
        )

    def cached(self) -> str | None:
        """The current token if it is not due for refresh, else None (never fetches)."""
        token = self._token
        if token is not None and self._clock() < self._refresh_at:
            return token.get_secret_value()
        return None

    def token(self) -> str:
        """A valid access token: the cached one, or a freshly fetched one (blocks to fetch)."""
        with self._lock:
            token = self.cached()
            if token is not None:
                return token
            return self._fetch()

    def _fetch(self) -> str:
        url = redact_url(self._token_url)
        data = {"grant_type": "client_credentials"}
        if self._scope:
            data["scope"] = self._scope
        auth = httpx.BasicAuth(self._client_id, self._client_secret.get_secret_value())
        requested_at = self._clock()
        try:
            with httpx.Client(
                transport=self._transport, timeout=self._timeout, follow_redirects=False
            ) as client:
                response = client.post(
                    self._token_url, data=data, auth=auth, headers={"Accept": "application/json"}
                )
        except httpx.TimeoutException as exc:
            raise OAuthTokenError(
                f"OAuth token endpoint {url} did not answer within {self._timeout:g} s "
                f"({type(exc).__name__}); check that it is reachable from here"
            ) from exc
        except httpx.HTTPError as exc:
            raise OAuthTokenError(
                f"could not reach the OAuth token endpoint {url} ({type(exc).__name__}: {exc}); "
                "check TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL and that it is reachable from here"
            ) from exc
        if response.status_code != 200:
            raise OAuthTokenError(
                f"OAuth token endpoint {url} answered HTTP {response.status_code}"
                f"{_oauth_error(response)}; {_HINT}"
            )
        try:
            body: Any = response.json()
        except ValueError as exc:
            raise OAuthTokenError(
                f"OAuth token endpoint {url} answered HTTP 200 without a JSON body; "
                "check that TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL is the token endpoint itself"
            ) from exc
        access_token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access_token, str) or not access_token:
            raise OAuthTokenError(
                f"OAuth token endpoint {url} answered HTTP 200 without an access_token; "
                "check that TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL is the token endpoint itself and "
                "that the client may use the client_credentials grant"
            )
        self._token = SecretStr(access_token)
        self._refresh_at = requested_at + self._lifetime(body.get("expires_in"))
        return access_token

    def _lifetime(self, expires_in: object) -> float:
        """Seconds the token may be reused for: its lifetime less the margin.

        Counted from when the request was sent, so time spent waiting on the
        endpoint is not mistaken for validity left. Short-lived tokens keep at
        least half their lifetime, so they are not refetched for every
        connection. Without ``expires_in`` (it is optional in RFC 6749) the
        token is not reused at all: reusing it blindly could hand the brokers
        an expired token.
        """
        if isinstance(expires_in, str) and expires_in.strip().isdigit():
            expires_in = int(expires_in)
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
            return 0.0
        lifetime = float(expires_in)
        if lifetime <= 0:
            return 0.0
        return lifetime - min(self._refresh_margin, lifetime / 2)


def _oauth_error(response: httpx.Response) -> str:
    """The RFC 6749 ``error`` code and description of a refusal, if the body has them."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ""
    description = body.get("error_description")
    detail = f": {description[:200]}" if isinstance(description, str) and description else ""
    return f" ({body['error']}{detail})"


def oauth_token_source(settings: Settings) -> ClientCredentialsTokenSource:
    """The token source the settings describe (validated by :class:`Settings` to be complete)."""
    if (
        not settings.kafka_oauth_token_url
        or not settings.kafka_oauth_client_id
        or settings.kafka_oauth_client_secret is None
    ):
        raise OAuthTokenError(
            "OAUTHBEARER needs TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL, TOWNSQUARE_KAFKA_OAUTH_CLIENT_ID "
            "and TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET"
        )
    return ClientCredentialsTokenSource(
        settings.kafka_oauth_token_url,
        settings.kafka_oauth_client_id,
        settings.kafka_oauth_client_secret,
        settings.kafka_oauth_scope,
    )


class KafkaPythonTokenProvider(_KafkaAbstractTokenProvider):
    """kafka-python's token provider: it calls ``token()`` synchronously on its own thread."""

    def __init__(self, source: ClientCredentialsTokenSource) -> None:
        super().__init__()
        self.source = source

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"

    def token(self) -> str:
        return self.source.token()

    def extensions(self) -> dict[str, str]:
        return {}


def kafka_python_token_provider(source: ClientCredentialsTokenSource) -> KafkaPythonTokenProvider:
    """``sasl_oauth_token_provider`` for kafka-python's producer, consumer and admin client."""
    return KafkaPythonTokenProvider(source)


@cache
def _aiokafka_provider_class() -> type[Any]:
    """Defines the aiokafka provider on first use, so importing this module never loads aiokafka."""
    from aiokafka.abc import AbstractTokenProvider

    class AiokafkaTokenProvider(AbstractTokenProvider):
        """aiokafka's token provider: ``token()`` is awaited on the worker's event loop.

        A cached token is returned at once; a fetch runs in a thread, so a slow
        identity provider never stalls the loop (heartbeats, other partitions).
        """

        def __init__(self, source: ClientCredentialsTokenSource) -> None:
            self.source = source

        def __repr__(self) -> str:
            return f"{type(self).__name__}({self.source!r})"

        async def token(self) -> str:
            cached = self.source.cached()
            if cached is not None:
                return cached
            return await asyncio.to_thread(self.source.token)

        def extensions(self) -> dict[str, str]:
            return {}

    return AiokafkaTokenProvider


def aiokafka_token_provider(source: ClientCredentialsTokenSource) -> Any:
    """An ``aiokafka.abc.AbstractTokenProvider`` for Faust's ``OAuthCredentials(oauth_cb=...)``."""
    return _aiokafka_provider_class()(source)
