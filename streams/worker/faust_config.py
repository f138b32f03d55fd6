"""Faust's connection options (broker URL list, TLS/SASL credentials) from settings.

Kept apart from :mod:`streams.kafka_config`, which the ingest side and the CLI
import: only the worker needs Faust, so only the worker pays for importing it.
Both modules derive the same servers and TLS context from the same settings.
"""

from __future__ import annotations

from faust.auth import OAuthCredentials, SASLCredentials, SSLCredentials

from streams.kafka_config import ssl_context
from streams.settings import Settings


def faust_credentials(
    settings: Settings,
) -> SASLCredentials | SSLCredentials | OAuthCredentials | None:
    """``broker_credentials`` for the Faust app (None for PLAINTEXT).

    TLS (client certificate included) comes from the same :func:`ssl_context`
    kafka-python uses; OAUTHBEARER hands aiokafka a token provider with its own
    cached, refreshed token source (fetches run off the event loop).
    """
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return SSLCredentials(ssl_context(settings))
    tls = ssl_context(settings) if protocol == "SASL_SSL" else None
    if settings.kafka_sasl_mechanism == "OAUTHBEARER":
        from streams.kafka_oauth import aiokafka_token_provider, oauth_token_source

        return OAuthCredentials(
            oauth_cb=aiokafka_token_provider(oauth_token_source(settings)), ssl_context=tls
        )
    return SASLCredentials(
        username=settings.kafka_sasl_username,
        password=(
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None
        ),
        mechanism=settings.kafka_sasl_mechanism or "PLAIN",
        ssl_context=tls,
    )


def broker_url(settings: Settings) -> str:
    """Faust's broker URL list: ``kafka://host1:9092;kafka://host2:9092``."""
    return ";".join(f"kafka://{server.strip()}" for server in settings.kafka_servers.split(","))
