"""Faust's connection options (broker URL list, TLS/SASL credentials) from settings.

Kept apart from :mod:`streams.kafka_config`, which the ingest side and the CLI
import: only the worker needs Faust, so only the worker pays for importing it.
Both modules derive the same servers and TLS context from the same settings.
"""

from __future__ import annotations

from faust.auth import SASLCredentials, SSLCredentials

from streams.kafka_config import ssl_context
from streams.settings import Settings


def faust_credentials(settings: Settings) -> SASLCredentials | SSLCredentials | None:
    """``broker_credentials`` for the Faust app (None for PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return SSLCredentials(ssl_context(settings))
    return SASLCredentials(
        username=settings.kafka_sasl_username,
        password=(
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None
        ),
        mechanism=settings.kafka_sasl_mechanism or "PLAIN",
        ssl_context=ssl_context(settings) if protocol == "SASL_SSL" else None,
    )


def broker_url(settings: Settings) -> str:
    """Faust's broker URL list: ``kafka://host1:9092;kafka://host2:9092``."""
    return ";".join(f"kafka://{server.strip()}" for server in settings.kafka_servers.split(","))
