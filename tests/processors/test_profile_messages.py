"""``profile check`` messages that teach: where (counted from 1), what is wrong, what to write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from processors.profile import (
    DEFAULT_WEIGHTS,
    PLATFORMS,
    Organisation,
    ProfileError,
    load_profile,
    parse_profile,
    summary,
)
from streams.sample import COUNCIL_PROFILE, sample_path

BENCH_PROFILES = sorted(
    (Path(__file__).resolve().parents[2] / "bench/judgement/profiles").glob("*.yaml")
)


def problems(data: Any) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        parse_profile(data)
    return caught.value.problems


def problems_of_yaml(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "profile.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    return caught.value.problems


def org(**fields: Any) -> dict[str, Any]:
    return {"organisation": {"name": "Acme", **fields}}


def test_an_unknown_key_gets_a_did_you_mean_from_the_fields_of_its_level() -> None:
    assert problems(org(topcs=["bins"])) == [
        "organisation.topcs: unknown field; did you mean 'topics'?"
    ]
    nested = problems(org(thresholds={"replly": 0.6}))
    assert nested == ["organisation.thresholds.replly: unknown field; did you mean 'reply'?"]
    gazetteer = problems(org(gazetteer=[{"text": "Report It", "lable": "PRODUCT"}]))
    assert "organisation.gazetteer[1].lable: unknown field; did you mean 'label'?" in gazetteer


def test_a_key_far_from_every_field_is_only_called_unknown() -> None:
    assert problems(org(mascot="owl")) == [
        "organisation.mascot: unknown field; check its spelling or remove it"
    ]


def test_an_unknown_weight_gets_a_did_you_mean_and_the_components() -> None:
    [line] = problems(org(weights={"relevence": 0.25}))
    assert line.startswith(
        "organisation.weights: unknown weight 'relevence'; did you mean 'relevance'?"
    )
    assert ", ".join(DEFAULT_WEIGHTS) in line


def test_positions_count_from_one(tmp_path: Path) -> None:
    found = problems_of_yaml(
        tmp_path,
        "organisation:\n"
        "  name: Acme\n"
        "  accounts:\n"
        "    x: [AcmeHQ, 5]\n"
        "  gazetteer:\n"
        "    - {text: Report It, label: PRODUCT}\n"
        "    - {text: Green Bin Club}\n",
    )
    assert "organisation.accounts.x[2]: expected text, got the number 5" in found
    assert "organisation.gazetteer[2].label: required field is missing" in found
    assert not any("[0]" in p or ".0" in p or ".1" in p for p in found), found


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("name: Acme\naccounts:\n  x: [AcmeHQ]\n", "(found name, accounts at the top level)"),
        ("organization:\n  name: Acme\n", "(found `organization:`)"),
        ("", "(it is empty)"),
        ("- Acme\n", "(it holds a list)"),
    ],
)
def test_a_missing_organisation_key_is_one_line_with_a_minimal_example(
    tmp_path: Path, text: str, why: str
) -> None:
    [line] = problems_of_yaml(tmp_path, text)
    assert line.startswith(f"the file must start with `organisation:` {why}")
    assert line.endswith("e.g. organisation: {name: Acme Council, accounts: {x: [AcmeCouncil]}}")
    assert "\n" not in line


def test_the_minimal_example_is_itself_a_valid_profile(tmp_path: Path) -> None:
    line = problems_of_yaml(tmp_path, "name: Acme\n")[0]
    example = line.split("e.g. ", 1)[1]
    path = tmp_path / "example.yaml"
    path.write_text(example + "\n", encoding="utf-8")
    assert load_profile(path).name == "Acme Council"


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"organisation": None},
        org(gazetteer=["Report It"]),
        org(accounts="AcmeHQ"),
        org(employees="jo"),
        org(reply_sla_minutes="soon"),
        org(weights={"relevance": "high"}),
    ],
)
def test_no_message_names_an_internal_class(data: Any) -> None:
    for line in problems(data):
        for internal in ("Profile", "Organisation", "GazetteerEntry", "Thresholds", "instance of"):
            assert internal not in line, line
        assert "dict" not in line and "Value error" not in line, line


def test_a_reply_threshold_below_appreciate_is_refused() -> None:
    [line] = problems(org(thresholds={"reply": 0.2, "appreciate": 0.4}))
    assert line == (
        "organisation.thresholds: reply (0.2) is below appreciate (0.4); "
        "reply must be at least appreciate"
    )
    [default] = problems(org(thresholds={"reply": 0.3}))
    assert "appreciate (0.35) (appreciate: the default)" in default
    assert parse_profile(org(thresholds={"reply": 0.4, "appreciate": 0.4})).thresholds.reply == 0.4


def test_weights_must_add_up_to_one_and_the_message_says_what_they_add_up_to() -> None:
    [line] = problems(org(weights={"relevance": 1.0, "invitation": 0.35}))
    assert line.startswith(
        "organisation.weights: the weights add up to 1.80; they must add up to 1"
    )
    assert "yours relevance 1, invitation 0.35" in line
    assert "defaults for the rest engagement 0.15" in line
    full = {name: 0.3 for name in DEFAULT_WEIGHTS}  # 6 x 0.3 = 1.8, as in the issue
    assert "add up to 1.80" in problems(org(weights=full))[0]


def test_weights_within_a_hundredth_of_one_pass() -> None:
    near = {**DEFAULT_WEIGHTS, "relevance": DEFAULT_WEIGHTS["relevance"] + 0.009}
    assert parse_profile(org(weights=near)).weights["relevance"] == near["relevance"]
    assert "add up to 1.02" in problems(org(weights={**DEFAULT_WEIGHTS, "relevance": 0.27}))[0]


def test_a_platform_typo_in_accounts_gets_a_did_you_mean() -> None:
    [line] = problems(org(accounts={"blusky": ["acme.example"], "x": ["AcmeHQ"]}))
    assert line.startswith(
        "organisation.accounts: unknown platform 'blusky': did you mean 'bluesky'?"
    )
    assert ", ".join(PLATFORMS) in line
    assert "did you mean 'x'" in problems(org(accounts={"X": ["AcmeHQ"]}))[0]


def test_the_platforms_are_the_ones_the_adapters_stamp() -> None:
    assert set(PLATFORMS) == {"bluesky", "mastodon", "reddit", "rss", "x"}


def test_a_webhook_platform_far_from_every_known_one_is_accepted() -> None:
    accepted = parse_profile(org(accounts={"forum": ["acme"], "x": ["AcmeHQ"]}))
    assert accepted.accounts["forum"] == ["acme"]
    assert ("accounts", "forum 1 (webhook), x 1") in summary(accepted)


def test_the_success_summary_shows_the_weights_and_thresholds_in_effect() -> None:
    council = load_profile(sample_path(COUNCIL_PROFILE))
    lines = dict(summary(council))
    assert lines["accounts"] == "x 2, mastodon 1, bluesky 2"
    assert lines["weights"] == (
        "relevance 0.25, invitation 0.35, engagement 0.10, openness 0.10, freshness 0.10, "
        "share_of_voice 0.10 (sum 1.00)"
    )
    assert lines["thresholds"].startswith("reply 0.50, appreciate 0.30 (kept for older profiles")
    assert lines["reply SLA"] == "240 minutes; people who write to us are citizens"


def test_the_summary_fills_in_and_marks_the_defaults() -> None:
    lines = dict(summary(parse_profile(org(weights={"relevance": 0.25}))))
    assert "invitation 0.30" in lines["weights"] and lines["weights"].endswith("(sum 1.00)")
    defaults = dict(summary(Organisation(name="Acme")))
    assert defaults["weights"].endswith("(sum 1.00, the defaults)")
    assert defaults["thresholds"].startswith("reply 0.55, appreciate 0.35 (the defaults; ")
    assert defaults["accounts"] == "none: no post counts as ours"


@pytest.mark.parametrize("path", BENCH_PROFILES, ids=lambda p: p.name)
def test_the_bench_profiles_pass_the_new_checks(path: Path) -> None:
    assert abs(sum(load_profile(path).weights.values()) - 1) <= 0.01


def test_there_are_bench_profiles_to_check() -> None:
    assert len(BENCH_PROFILES) >= 3
