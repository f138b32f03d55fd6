"""Settings: every field is an environment variable and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings

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


def test_defaults_point_at_the_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TOWNSQUARE_KAFKA_BOOTSTRAP", "TOWNSQUARE_ES_URL"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.uses_local_services
    assert s.kafka_servers.startswith("127.0.0.1:")
    assert s.elasticsearch_url.startswith("http://127.0.0.1:")


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
