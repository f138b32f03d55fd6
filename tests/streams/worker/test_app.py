"""create_app: roles pick the agents and tables, resources wait for start-up, names are settled."""

from __future__ import annotations

import hashlib
import logging
import ssl
import uuid
from pathlib import Path

import pytest
from faust.auth import SASLCredentials, SSLCredentials
from pydantic import SecretStr

from processors.profile import ProfileError
from streams.classifiers import ClassifiersMissing
from streams.profiles import SampleProfileRefused, default_profile_path
from streams.settings import Settings
from streams.worker.app import create_app, create_worker
from streams.worker.faust_config import broker_url, faust_credentials
from streams.worker.resources import Resources
from streams.worker.roles import resolve


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        app_id=f"townsquare-app-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path,
        metrics_port=0,
        **overrides,  # type: ignore[arg-type]
    )


def test_all_means_every_stage_in_pipeline_order() -> None:
    assert resolve(["all"]) == ["normalize", "locate", "enrich", "index", "alert", "notify"]
    assert resolve(["index", "normalize", "index"]) == ["normalize", "index"]


def test_locate_is_a_role_of_its_own() -> None:
    assert resolve(["normalize"]) == ["normalize"]
    assert resolve(["locate"]) == ["locate"]


def test_sink_still_means_index_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.warns(DeprecationWarning, match="'sink' is deprecated; use 'index'"):
        assert resolve(["sink"]) == ["index"]
    assert "deprecated" in caplog.text


def test_an_unknown_role_names_the_choices() -> None:
    with pytest.raises(ValueError, match="normalize, locate, enrich, index, alert, notify or all"):
        resolve(["sinks"])


async def test_the_app_declares_only_the_agents_and_tables_of_its_roles(tmp_path: Path) -> None:
    worker = create_worker(_settings(tmp_path), ["normalize"])
    assert list(worker.app.agents) == ["townsquare.normalize"]
    assert list(worker.app.tables) == [], "normalize keeps no state"
    located = create_worker(_settings(tmp_path), ["locate", "index"])
    assert sorted(located.app.agents) == [
        "townsquare.index",
        "townsquare.index_alerts",
        "townsquare.index_conversations",
        "townsquare.locate",
    ]
    assert list(located.app.tables) == ["post_locations"]
    alerting = create_worker(_settings(tmp_path), ["alert"])
    assert sorted(alerting.app.tables) == [
        "alert_throttle",
        "deadlines",
        "silence",
        "spike_counts",
        "spike_state",
    ], "the alert role keeps its own state, and not the pipeline's"
    everything = create_app(_settings(tmp_path))
    assert sorted(everything.tables) == [
        "alert_throttle",
        "conversations",
        "deadlines",
        "post_locations",
        "silence",
        "spike_counts",
        "spike_state",
    ]


async def test_topics_are_named_from_settings(tmp_path: Path) -> None:
    worker = create_worker(_settings(tmp_path, topic_prefix="acme.", topic_version="v2"), ["all"])
    assert worker.topics.raw.get_topic_name() == "acme.posts.raw.v2"
    assert worker.topics.named("posts.by_id").get_topic_name() == "acme.posts.by_id.v2"
    with pytest.raises(ValueError, match="no worker topic"):
        worker.topics.named("ingest.cursors")


async def test_nothing_expensive_is_built_until_asked_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="townsquare.worker")
    resources = Resources(_settings(tmp_path, ner_processes=0, allow_sample_profile=True))
    create_app(resources.settings, ["all"], resources=resources)
    assert (resources._profile, resources._ner, resources._es) == (None, None, None)
    resources.warm_up(["normalize"])
    assert resources._profile is None, "a normalize worker needs no profile"
    resources.warm_up(["enrich"])
    digest = hashlib.sha256(default_profile_path().read_bytes()).hexdigest()
    assert resources.profile.sha256 == digest
    assert resources.profile.path == default_profile_path()
    assert f"Harbourside Borough Council ({default_profile_path()}, sha256 {digest})" in caplog.text
    assert resources._ner is not None and resources._es is None
    assert resources.es is resources.es, "one client per worker"
    await resources.close()
    assert (resources._ner, resources._es) == (None, None)


def test_a_worker_refuses_the_sample_profile_unless_asked(tmp_path: Path) -> None:
    refused = Resources(_settings(tmp_path, ner_processes=0))
    with pytest.raises(SampleProfileRefused, match="TOWNSQUARE_PROFILE_PATH"):
        refused.warm_up(["enrich"])
    mine = tmp_path / "mine.yaml"
    mine.write_text("organisation:\n  name: Mine Ltd\n  accounts: {x: [MineLtd]}\n")
    configured = Resources(_settings(tmp_path, ner_processes=0, profile_path=mine))
    assert configured.org.name == "Mine Ltd"


def test_the_worker_loads_the_classifiers_at_start(tmp_path: Path) -> None:
    resources = Resources(_settings(tmp_path, ner_processes=0, allow_sample_profile=True))
    resources.warm_up(["enrich"])
    assert resources._classifiers is not None
    missing = Resources(
        _settings(
            tmp_path, ner_processes=0, allow_sample_profile=True, models_dir=tmp_path / "none"
        )
    )
    with pytest.raises(ClassifiersMissing, match="TOWNSQUARE_MODELS_DIR"):
        missing.warm_up(["enrich"])


def test_faust_connection_options_follow_the_kafka_settings(tmp_path: Path) -> None:
    plain = _settings(tmp_path, kafka_bootstrap="a:9092, b:9093")
    assert broker_url(plain) == "kafka://a:9092;kafka://b:9093"
    assert faust_credentials(plain) is None
    assert isinstance(
        faust_credentials(_settings(tmp_path, kafka_security_protocol="SSL")), SSLCredentials
    )
    sasl = faust_credentials(
        _settings(
            tmp_path,
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="townsquare",
            kafka_sasl_password=SecretStr("s3cret"),
        )
    )
    assert isinstance(sasl, SASLCredentials)
    assert (sasl.username, sasl.password) == ("townsquare", "s3cret")
    assert isinstance(sasl.ssl_context, ssl.SSLContext)


async def test_the_worker_service_warms_up_before_the_app_and_closes_after(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="townsquare.worker")
    worker = create_worker(
        _settings(tmp_path, ner_processes=0, allow_sample_profile=True), ["enrich"]
    )
    _health, watch, service = worker.services()
    assert watch is worker.erasure_watch, "the erasure list is read before the agents start"
    await service.start()
    assert "organisation profile Harbourside Borough Council" in caplog.text
    assert worker.resources._ner is not None
    await service.stop()
    assert worker.resources._ner is None


async def test_a_bad_profile_stops_the_worker_service_at_start(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    worker = create_worker(_settings(tmp_path, profile_path=missing), ["enrich"])
    *_, service = worker.services()
    with pytest.raises(ProfileError):
        await service.start()


def test_only_roles_that_see_new_posts_read_the_erasure_list(tmp_path: Path) -> None:
    settings = _settings(tmp_path, allow_sample_profile=True)
    for roles, reads in ((["normalize"], True), (["enrich"], True), (["locate", "index"], False)):
        worker = create_worker(settings, roles)
        assert (worker.erasure_watch is not None) is reads, roles
        assert (worker.resources.withhold is not None) is reads, roles
        assert len(worker.services()) == (3 if reads else 2), "health, watch, resources"


def test_side_roles_alone_get_a_consumer_group_of_their_own() -> None:
    from streams.worker.roles import consumer_group

    assert consumer_group("ts", resolve(["all"])) == "ts"
    assert consumer_group("ts", resolve(["index"])) == "ts"
    assert consumer_group("ts", resolve(["index", "alert"])) == "ts", "runs every agent it reads"
    assert consumer_group("ts", resolve(["alert"])) == "ts-alert"
    assert consumer_group("ts", resolve(["notify"])) == "ts-notify"
    assert consumer_group("ts", resolve(["notify", "alert"])) == "ts-alert-notify"
