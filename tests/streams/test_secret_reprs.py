"""Tokens and the credentials in ``TOWNSQUARE_ES_URL`` stay out of reprs, yet still work."""

from __future__ import annotations

import base64

import pytest
from elasticsearch import Elasticsearch

from streams.es.client import _client_kwargs
from streams.settings import Settings, redact_url
from streams.sources.mastodon import MastodonOptions, Timeline
from streams.sources.x import XOptions

ES_URL = "https://elastic:hunter2@es.example:9200"


def test_mastodon_options_repr_hides_the_token() -> None:
    options = MastodonOptions(
        base_url="https://m.example", timeline=Timeline("hashtag", "bins"), token="mastodon-s3cret"
    )
    assert "mastodon-s3cret" not in repr(options)
    assert "mastodon-s3cret" not in str(options)
    assert "https://m.example" in repr(options)  # the rest still helps when debugging
    assert options.token == "mastodon-s3cret"


def test_x_options_repr_hides_the_token() -> None:
    options = XOptions(token="x-bearer-s3cret", query="bins")
    assert "x-bearer-s3cret" not in repr(options)
    assert "'bins'" in repr(options)
    assert options.token == "x-bearer-s3cret"
    assert XOptions("positional-token").token == "positional-token"  # still the first field


def test_settings_repr_and_str_mask_the_es_url_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOWNSQUARE_ES_URL", ES_URL)
    settings = Settings()
    for text in (repr(settings), str(settings)):
        assert "hunter2" not in text and "elastic:" not in text
        assert "https://***@es.example:9200" in text
    assert settings.es_url == ES_URL  # the value itself is untouched


def test_the_es_client_still_gets_the_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNSQUARE_ES_URL", ES_URL)
    kwargs = _client_kwargs(Settings())
    assert kwargs["hosts"] == [ES_URL]
    node = Elasticsearch(**kwargs).transport.node_pool.all()[0]
    expected = "Basic " + base64.b64encode(b"elastic:hunter2").decode()
    assert node.config.headers["authorization"] == expected
    assert (node.config.host, node.config.port) == ("es.example", 9200)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://elastic:hunter2@es.example:9200", "https://***@es.example:9200"),
        ("http://token@es.example/prefix", "http://***@es.example/prefix"),
        ("https://u:p@ss@es.example", "https://***@es.example"),  # an unescaped @ in a password
        ("elastic:hunter2@es.example:9200", "***@es.example:9200"),
        ("http://127.0.0.1:19200", "http://127.0.0.1:19200"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_settings_without_es_url_repr_as_before() -> None:
    assert "es_url=None" in repr(Settings(es_url=None))
