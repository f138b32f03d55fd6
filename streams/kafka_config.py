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


class KafkaTLSError(RuntimeError):
    """The client certificate or key configured for Kafka could not be loaded."""


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context both clients use for the brokers.

    It trusts the configured CA (else the system's) and, for brokers that
    require mutual TLS, presents the configured client certificate. Both
    clients take this one context, so kafka-python and aiokafka cannot
    disagree about certificates.
    """
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=cafile)
    certfile, keyfile = settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile
    if certfile is not None and keyfile is not None:
        secret = settings.kafka_ssl_key_password
        # A callback rather than None: without one OpenSSL would prompt on the
        # terminal for an encrypted key; an empty answer makes it fail instead.
        password = secret.get_secret_value() if secret is not None else _no_password
        try:
            context.load_cert_chain(certfile=str(certfile), keyfile=str(keyfile), password=password)
        except FileNotFoundError as exc:
            raise KafkaTLSError(
                f"Kafka client certificate or key not found ({exc.filename}): check "
                "TOWNSQUARE_KAFKA_SSL_CERTFILE and TOWNSQUARE_KAFKA_SSL_KEYFILE"
            ) from exc
        except (ssl.SSLError, OSError) as exc:
            raise KafkaTLSError(
                f"could not load the Kafka client certificate {certfile} with key {keyfile} "
                f"({type(exc).__name__}: {exc.strerror or exc}): both must be PEM, the key must "
                "match the certificate, and an encrypted key needs "
                "TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD"
            ) from exc
    return context


def _no_password() -> str:
    return ""


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's producer, consumer and admin client.

    TLS goes through :func:`ssl_context` (client certificate included), not
    kafka-python's ``ssl_certfile``/``ssl_keyfile``, which it ignores once a
    context is given; OAUTHBEARER gets a token provider instead of a password.
    """
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_servers.split(","),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in {"SSL", "SASL_SSL"}:
        config["ssl_context"] = ssl_context(settings)
    if settings.kafka_sasl_mechanism == "OAUTHBEARER" and settings.kafka_security_protocol in {
        "SASL_PLAINTEXT",
        "SASL_SSL",
    }:
        # Imported here: only OAuth deployments need httpx and the token source.
        from streams.kafka_oauth import kafka_python_token_provider, oauth_token_source

        config["sasl_mechanism"] = "OAUTHBEARER"
        config["sasl_oauth_token_provider"] = kafka_python_token_provider(
            oauth_token_source(settings)
        )
    elif settings.kafka_security_protocol.startswith("SASL"):
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        config["sasl_plain_username"] = settings.kafka_sasl_username
        config["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None
        )
    return config
