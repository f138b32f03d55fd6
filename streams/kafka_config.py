"""Kafka connection options, derived once from settings for every client we use.

townsquare talks to Kafka through two clients: Faust (aiokafka) in the worker
and kafka-python in ingest, setup and the CLI. Both must see the same servers
and the same TLS/SASL options, so both derive them from here; the Faust half
lives in :mod:`streams.worker.faust_config`, because this module is imported by
the ingest side, which must not import Faust.
"""

from __future__ import annotations

import ssl
from typing import Any

from streams.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context both clients use for the brokers (the configured CA, else the system's)."""
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    return ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=cafile)


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's producer, consumer and admin client."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_servers.split(","),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in {"SSL", "SASL_SSL"}:
        config["ssl_context"] = ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL"):
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        config["sasl_plain_username"] = settings.kafka_sasl_username
        config["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None
        )
    return config
