"""The judgement benchmark's pure parts: figures on known answers, and the committed labels.

The figures are checked on tiny hand-made lists whose answers were worked out
by hand, so a change to a definition shows up here before it shifts a
dashboard. The label checks keep the committed label files honest: they parse,
point at posts that exist, never repeat, and name profiles that load.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "judgement_eval.py"
LABELS = sorted((ROOT / "bench" / "judgement" / "labels").glob("*.jsonl"))
PROFILES = ROOT / "bench" / "judgement" / "profiles"
DATA = ROOT.parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} is absent")


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("judgement_eval", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


ev = _load()


def _record(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "set": "customer-care",
        "ref": "x:123",
        "profile": "support-desks",
        "action": "reply",
        "stakeholders": ["customer"],
        "kind": "complaint",
        "note": "made up",
    }
    record.update(overrides)
    return record


# --- figures -------------------------------------------------------------------------


EXPECTED = ["reply", "reply", "appreciate", "listen_only", "listen_only", "do_not_engage"]
GOT = ["reply", "listen_only", "appreciate", "reply", "listen_only", "appreciate"]


def test_accuracy_counts_exact_matches() -> None:
    assert ev.accuracy(EXPECTED, GOT) == pytest.approx(3 / 6)
    assert ev.accuracy([], []) is None
    with pytest.raises(ValueError):
        ev.accuracy(["reply"], [])


def test_macro_f1_averages_the_actions_that_occur() -> None:
    # reply: tp 1 fp 1 fn 1 -> 0.5; appreciate: tp 1 fp 1 fn 0 -> 2/3;
    # listen_only: tp 1 fp 1 fn 1 -> 0.5; do_not_engage: tp 0 fn 1 -> 0; escalate absent.
    assert ev.macro_f1(EXPECTED, GOT) == pytest.approx((0.5 + 2 / 3 + 0.5 + 0) / 4)
    assert ev.macro_f1(["reply"], ["reply"]) == 1.0
    assert ev.macro_f1([], []) is None


def test_barge_in_rate_is_speaking_where_unwelcome() -> None:
    # unwelcome: listen_only (got reply), listen_only (got listen_only), dne (got appreciate)
    assert ev.barge_in_rate(EXPECTED, GOT) == pytest.approx(2 / 3)
    assert ev.barge_in_rate(["do_not_engage"], ["escalate"]) == 0.0  # escalating is not speaking
    assert ev.barge_in_rate(["reply"], ["reply"]) is None


def test_ignore_rate_is_silence_where_a_reply_is_needed() -> None:
    # needs a reply: reply (got reply), reply (got listen_only)
    assert ev.ignore_rate(EXPECTED, GOT) == pytest.approx(1 / 2)
    assert ev.ignore_rate(["escalate", "escalate"], ["do_not_engage", "appreciate"]) == 0.5
    assert ev.ignore_rate(["listen_only"], ["reply"]) is None


def test_confusion_has_every_cell() -> None:
    matrix = ev.confusion(EXPECTED, GOT)
    assert list(matrix) == list(ev.ACTIONS)
    assert all(list(row) == list(ev.ACTIONS) for row in matrix.values())
    assert matrix["reply"]["listen_only"] == 1
    assert matrix["do_not_engage"]["appreciate"] == 1
    assert sum(sum(row.values()) for row in matrix.values()) == len(EXPECTED)


def test_stakeholder_scores_are_micro_and_per_label() -> None:
    pairs = [
        ({"customer"}, {"customer"}),  # tp customer
        ({"customer", "media"}, {"customer"}),  # tp customer, fn media
        (set(), {"media"}),  # fp media
        ({"official"}, set()),  # fn official
    ]
    overall, per_label = ev.stakeholder_scores(pairs)
    assert (overall.tp, overall.fp, overall.fn) == (2, 1, 2)
    assert overall.precision == pytest.approx(2 / 3)
    assert overall.recall == pytest.approx(2 / 4)
    assert list(per_label) == ["customer", "media", "official"]  # guide order, seen only
    assert per_label["customer"].precision == 1.0 and per_label["customer"].recall == 1.0
    assert per_label["media"].precision == 0.0 and per_label["media"].recall == 0.0
    assert per_label["official"].precision is None  # never predicted
    empty, none = ev.stakeholder_scores([(set(), set())])
    assert empty.precision is None and empty.recall is None and none == {}


def test_figures_leave_own_posts_out_of_stakeholders() -> None:
    label = ev.parse_label(_record())
    outcomes = [
        ev.Outcome(label, "reply", frozenset({"customer"}), False, "", ""),
        ev.Outcome(label, "listen_only", frozenset({"media"}), True, "", ""),  # own: ignored
    ]
    result = ev.rounded(ev.figures(outcomes))
    assert result == {
        "n": 2,
        "action_accuracy": 0.5,
        "macro_f1": pytest.approx(round((2 / 3 + 0) / 2, 3)),
        "barge_in_rate": None,
        "ignore_rate": 0.5,
        "stakeholder_precision": 1.0,
        "stakeholder_recall": 1.0,
    }


# --- labels ----------------------------------------------------------------------------


def test_parse_label_reports_every_problem() -> None:
    label = ev.parse_label(_record(), "f:1")
    assert label.key == ("customer-care", "x:123", "support-desks")
    assert label.stakeholders == frozenset({"customer"})
    with pytest.raises(ev.LabelError, match="f:1: missing 'note'; unknown field 'extra'"):
        ev.parse_label({**{k: v for k, v in _record().items() if k != "note"}, "extra": 1}, "f:1")
    with pytest.raises(ev.LabelError) as info:
        ev.parse_label(
            _record(action="ignore", kind="rant", stakeholders=["customer", "alien"], ref="123")
        )
    message = str(info.value)
    for part in ("action 'ignore'", "kind 'rant'", "unknown stakeholders ['alien']", "x:<tweet"):
        assert part in message
    with pytest.raises(ev.LabelError, match="tweeteval/<task>"):
        ev.parse_label(_record(set="tweeteval", ref="tweeteval/emotion_train_text.txt:3"))
    with pytest.raises(ev.LabelError, match="set 'reddit'"):
        ev.parse_label(_record(set="reddit"))


def test_load_labels_refuses_duplicates(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps(_record()) + "\n\n", encoding="utf-8")
    second.write_text(json.dumps(_record(action="listen_only")) + "\n", encoding="utf-8")
    assert len(ev.load_labels([first])) == 1
    with pytest.raises(ev.LabelError, match=r"b.jsonl:1: duplicate of a.jsonl:1"):
        ev.load_labels([first, second])
    other_profile = tmp_path / "c.jsonl"
    other_profile.write_text(json.dumps(_record(profile="brand-apple")) + "\n", encoding="utf-8")
    assert len(ev.load_labels([first, other_profile])) == 2


def test_committed_labels_parse_without_duplicates() -> None:
    labels = ev.load_labels(LABELS)  # raises on a bad or repeated record
    assert len(labels) == sum(
        1 for path in LABELS for line in path.read_text("utf-8").splitlines() if line.strip()
    )
    assert {label.set for label in labels} == set(ev.SETS)


def test_every_labelled_profile_loads() -> None:
    from processors.profile import load_profile

    names = {label.profile for label in ev.load_labels(LABELS)}
    for name in sorted(names):
        org = load_profile(PROFILES / f"{name}.yaml")
        assert org.own_handles(), name


@needs_data
def test_every_ref_exists_in_the_data() -> None:
    labels = ev.load_labels(LABELS)
    with (DATA / "customer-care" / "dev.json").open(encoding="utf-8") as handle:
        care = {
            f"x:{turn['tweet_ID']}"
            for dialog in json.load(handle)
            for turn in dialog["dialogContent"]
        }
    with (DATA / "twcs" / "spotify_support_requests.csv").open(encoding="utf-8", newline="") as f:
        twcs = {f"x:{row['tweet_id']}" for row in csv.DictReader(f)}
    known = {"customer-care": care, "twcs-spotify": twcs}
    missing = [
        label.where for label in labels if label.set in known and label.ref not in known[label.set]
    ]
    assert missing == []
    tweeteval = [label.ref for label in labels if label.set == "tweeteval"]
    posts = ev.tweeteval_posts(DATA, tweeteval)  # raises on a line past the end
    assert set(posts) == set(tweeteval)
    assert all(post.text.strip() for post in posts.values())


# --- tweeteval posts ------------------------------------------------------------------------


def test_tweeteval_post_from_a_line(tmp_path: Path) -> None:
    folder = tmp_path / "tweeteval" / "irony"
    folder.mkdir(parents=True)
    lines = [
        "first line \u2028 with a line separator",
        "Hi @AppleSupport my #iPhone died, see http://x.co/a. @user ",
        "",
    ]
    (folder / "val_text.txt").write_bytes("\n".join(lines).encode("utf-8") + b"\n")
    posts = ev.tweeteval_posts(tmp_path, ["tweeteval/irony/val_text.txt:2"])
    post = posts["tweeteval/irony/val_text.txt:2"]
    assert post.text == lines[1]  # trailing space kept, newline gone; U+2028 did not split
    assert post.id == "x:tweeteval-irony-val-2" == post.conversation_id
    assert post.platform == "x"
    assert post.author.id == "x:anon-tweeteval-irony-val-2" and post.author.handle is None
    assert post.mentions == ["AppleSupport", "user"]
    assert post.hashtags == ["iPhone"]
    assert post.links == ["http://x.co/a"]
    assert post.created_at == post.received_at == ev.TWEETEVAL_TIME
    with pytest.raises(ev.LabelError, match="has only 3 lines"):
        ev.tweeteval_posts(tmp_path, ["tweeteval/irony/val_text.txt:4"])


@needs_data
def test_tweeteval_post_matches_the_data_file() -> None:
    ref = "tweeteval/sentiment/val_text.txt:1234"
    with (DATA / "tweeteval" / "sentiment" / "val_text.txt").open("rb") as handle:
        expected = handle.readlines()[1233].decode("utf-8").removesuffix("\n")
    post = ev.tweeteval_posts(DATA, [ref])[ref]
    assert post.text == expected
    assert post.id == "x:tweeteval-sentiment-val-1234"
