"""The fast posts.enriched parse gives the careful path's answer, or steps aside."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.adapters.common import may_hold_lone_surrogate
from processors.enrich import enrich_post
from processors.profile import Organisation
from schemas.models import CanonicalPost, EnrichedPost
from streams.es.documents import DocumentError, bulk_action
from streams.sample import CORPUS, sample_path
from streams.steps.alert import decode
from streams.steps.enriched_fast import fast_enriched

NOW = datetime(2026, 3, 12, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def enriched_values(council: Organisation) -> list[bytes]:
    lines = sample_path(CORPUS).read_text(encoding="utf-8").splitlines()
    posts = [CanonicalPost.model_validate(json.loads(line)) for line in lines]
    out = []
    for post in [p for p in posts if p.kind != "delete"][:60]:
        enriched, _ = enrich_post(post, [], None, council, NOW)
        out.append(enriched.model_dump_json().encode())
    return out


def _careful(value: bytes) -> EnrichedPost:
    return EnrichedPost.model_validate(json.loads(value))


def test_the_fast_parse_equals_the_careful_one_on_real_enriched_posts(
    enriched_values: list[bytes],
) -> None:
    for value in enriched_values:
        fast = fast_enriched(value)
        assert fast is not None
        assert fast == _careful(value)
        assert decode(value).post == fast


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_json_float_goes_the_careful_way_and_is_refused(
    enriched_values: list[bytes], literal: str
) -> None:
    data = json.loads(enriched_values[0])
    text = json.dumps(data).replace(
        f'"score": {data["joinability"]["score"]}', f'"score": {literal}', 1
    )
    assert literal in text
    value = text.encode()
    assert fast_enriched(value) is None
    assert decode(value).rejected is not None
    with pytest.raises(DocumentError):
        bulk_action(value, "posts")


def test_a_tombstone_and_a_lone_surrogate_go_the_careful_way(
    enriched_values: list[bytes],
) -> None:
    tombstone = json.dumps(
        {
            "kind": "delete",
            "id": "x:1",
            "platform": "x",
            "conversation_id": "x:1",
            "deleted_at": NOW.isoformat(),
        }
    ).encode()
    assert fast_enriched(tombstone) is None
    assert bulk_action(tombstone, "posts")["_op_type"] == "delete"
    surrogate = enriched_values[0].replace(b'"text":"', b'"text":"\\ud800', 1)
    assert surrogate != enriched_values[0]
    assert fast_enriched(surrogate) is None
    assert decode(surrogate).rejected is not None


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_whatever_the_fast_parse_accepts_the_careful_one_accepts_alike(
    enriched_values: list[bytes], data: st.DataObject
) -> None:
    value = bytearray(data.draw(st.sampled_from(enriched_values)))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(value) - 1))
        value[at : at + 1] = data.draw(st.binary(min_size=0, max_size=3))
    fast = fast_enriched(bytes(value))
    if fast is not None:
        assert decode(bytes(value)).post == fast
        try:
            careful = _careful(bytes(value))
        except (ValueError, UnicodeDecodeError):
            pytest.fail("the fast parse accepted a value strict JSON refuses")
        assert careful == fast


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_text_a_post_can_hold_parses_the_same_both_ways(
    enriched_values: list[bytes], data: st.DataObject
) -> None:
    """Valid JSON with arbitrary text (escaped or raw, surrogates included): the two agree."""
    record = json.loads(data.draw(st.sampled_from(enriched_values)))
    record["text"] = data.draw(st.text(max_size=200))
    value = json.dumps(record, ensure_ascii=data.draw(st.booleans())).encode(
        "utf-8", "surrogatepass"
    )
    fast = fast_enriched(value)
    careful = decode(value).post
    steps_aside = b"NaN" in value or b"Infinity" in value or may_hold_lone_surrogate(value)
    if steps_aside:
        assert fast is None
    else:
        assert fast is not None, "valid JSON with an ordinary text takes the fast path"
        assert fast == careful
