"""Settings: every field is an environment variable and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import LocalPortUnknown, Settings, record_local_ports

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_configuration_table(name: str) -> None:
    assert f"`TOWNSQUARE_{name.upper()}`" in README.read_text(encoding="utf-8")


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNSQUARE_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("TOWNSQUARE_TOPIC_PREFIX", "acme.")
    monkeypatch.setenv("TOWNSQUARE_BATCH_SIZE", "7")
    s = Settings()
    assert s.kafka_servers == "k1:9092,k2:9092"
    assert s.topic("posts.enriched") == "acme.posts.enriched.v1"
    assert s.batch_size == 7
    assert not s.uses_local_services


_LOCAL = (
    "TOWNSQUARE_KAFKA_BOOTSTRAP",
    "TOWNSQUARE_ES_URL",
    "TOWNSQUARE_LOCAL_KAFKA_PORT",
    "TOWNSQUARE_LOCAL_ES_PORT",
)


def test_defaults_point_at_the_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _LOCAL:
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.uses_local_services
    assert s.kafka_servers == "127.0.0.1:19092"
    assert s.elasticsearch_url == "http://127.0.0.1:19200"


def test_local_ports_come_from_their_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _LOCAL:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TOWNSQUARE_LOCAL_KAFKA_PORT", "29092")
    monkeypatch.setenv("TOWNSQUARE_LOCAL_ES_PORT", "29200")
    s = Settings()
    assert (s.kafka_servers, s.elasticsearch_url) == ("127.0.0.1:29092", "http://127.0.0.1:29200")
    monkeypatch.setenv("TOWNSQUARE_KAFKA_BOOTSTRAP", "k1:9092")  # named servers win
    assert Settings().kafka_servers == "k1:9092"


def test_port_zero_follows_the_ports_services_up_recorded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in _LOCAL:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TOWNSQUARE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOWNSQUARE_LOCAL_KAFKA_PORT", "0")
    monkeypatch.setenv("TOWNSQUARE_LOCAL_ES_PORT", "0")
    s = Settings()
    with pytest.raises(LocalPortUnknown, match=r"TOWNSQUARE_LOCAL_KAFKA_PORT=0.*services up"):
        _ = s.kafka_servers
    record_local_ports(tmp_path, {"kafka": 41001, "elasticsearch": 41002})
    assert (s.kafka_servers, s.elasticsearch_url) == ("127.0.0.1:41001", "http://127.0.0.1:41002")
    record_local_ports(tmp_path, {"kafka": 41003, "elasticsearch": 41004})  # a later `up`
    assert s.kafka_servers == "127.0.0.1:41003"


def test_a_port_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNSQUARE_LOCAL_ES_PORT", "70000")
    with pytest.raises(ValueError, match="local_es_port"):
        Settings()


def test_secrets_come_from_mounted_files_and_never_show(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "api-key"
    secret.write_text("s3cr3t-key\n")
    monkeypatch.setenv("TOWNSQUARE_ES_API_KEY_FILE", str(secret))
    s = Settings()
    assert s.es_api_key is not None
    assert s.es_api_key.get_secret_value() == "s3cr3t-key"
    assert "s3cr3t" not in repr(s)
    assert "s3cr3t" not in str(s.model_dump())


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNSQUARE_TOPIC_PARTITIONS", "0")
    with pytest.raises(ValueError, match="topic_partitions"):
        Settings()


def test_topics_keep_posts_a_week_at_most_by_default_and_never_longer_than_the_index() -> None:
    from pydantic import ValidationError

    day = 24 * 60 * 60 * 1000
    assert Settings(retention_days=90).topic_retention_ms == 7 * day
    assert Settings(retention_days=3).topic_retention_ms == 3 * day
    assert Settings(retention_days=90, topic_retention_days=30).topic_retention_ms == 30 * day
    with pytest.raises(ValidationError, match="longer than"):
        Settings(retention_days=10, topic_retention_days=30)


def test_pseudonymising_needs_a_long_key() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="TOWNSQUARE_PSEUDONYM_KEY"):
        Settings(pseudonymise=True)
    with pytest.raises(ValidationError, match="shorter than 16"):
        Settings(pseudonymise=True, pseudonym_key="short")
    assert Settings(pseudonymise=True, pseudonym_key="k" * 16).pseudonymise
