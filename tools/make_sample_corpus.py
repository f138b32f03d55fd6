"""Write townsquare's own sample corpus: four days of talk around a fictional council.

The demo, the docs and the stream tests need conversations that exercise every
branch of the product (questions answered and not, praise, complaints, a
journalist, councillors, partners, staff, an influencer, chatter that is none of
the council's business, grief and illness to leave alone, abuse and spam), and
they must be ours to publish. So the threads are written as scripts in
``tools/sample_corpus.yaml`` (the cast, then one block per thread), where a
writer can read and change a thread without reading Python, and only the things
nobody should hand-type are generated here: platform-shaped ids derived from the
timestamps, author ids, reply timings, metrics, and the mentions/hashtags/links,
which come from :mod:`processors.text` so the corpus and the pipeline agree on
what a mention is.

Each post of a script may say what a careful community manager would do with it
for the council (``expect``); :func:`expected_actions` hands those labels to the
tests, which hold the product's judgement to them. Like ``flag``, ``expect`` is
never written to the corpus: the corpus is input, not an answer key.

Everything is deterministic (a seeded ``random.Random`` and SHA-256, never
``hash()``), so ``python tools/make_sample_corpus.py`` reproduces the committed
``streams/sample/corpus.jsonl`` byte for byte and a test holds it to that.

    python tools/make_sample_corpus.py            # rewrite the corpus
    python tools/make_sample_corpus.py --check    # exit 1 if the file is stale
    python tools/make_sample_corpus.py --summary  # counts by platform, kind and label
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere, not only as a module
    sys.path.insert(0, str(REPO))

from processors.conversation import ConversationState, apply_post  # noqa: E402
from processors.profile import Organisation, load_profile, normalize_handle  # noqa: E402
from processors.text import find_hashtags, find_links, find_mentions, unique  # noqa: E402
from schemas.models import CanonicalPost  # noqa: E402

OUT = REPO / "streams" / "sample" / "corpus.jsonl"
SCRIPT = Path(__file__).resolve().with_name("sample_corpus.yaml")
COUNCIL_PROFILE = REPO / "streams" / "sample" / "profile-council.yaml"
SEED = 20260309
FIRST_DAY = datetime(2026, 3, 9, tzinfo=UTC)  # a Monday; UK clocks are on GMT, so local = UTC
PLATFORMS = ("x", "mastodon", "bluesky")
FLAGS = ("sensitive", "abusive", "spam")
ACTIONS = ("reply", "appreciate", "escalate", "listen_only", "do_not_engage")
"""The recommended actions of the product (bench/judgement/GUIDE.md), the values of ``expect``."""

# --------------------------------------------------------------------------- the script


@dataclass(frozen=True)
class Person:
    """Someone who posts, with one handle per platform they use.

    Mastodon handles are full ``name@instance`` accounts; Bluesky handles are
    domains. ``followers`` is for the first platform listed; other platforms
    get a smaller audience, as cross-posters usually do.
    """

    name: str
    bio: str
    followers: int
    x: str | None = None
    mastodon: str | None = None
    bluesky: str | None = None
    verified: bool = False

    def handle(self, platform: str) -> str:
        handle: str | None = getattr(self, platform)
        if handle is None:
            raise KeyError(f"{self.name} has no {platform} account")
        return handle


@dataclass(frozen=True)
class Step:
    """One post of a thread script.

    ``to`` is the index of the post it replies to within the thread (default:
    the previous post); ``after`` the minutes after that post (default: drawn
    from the seeded generator). ``flag`` marks what the post is an example of
    (sensitive, abusive, spam) for the summary; ``expect`` is the action a
    careful community manager would take on it for the council. Neither is
    written to the corpus.
    """

    who: str
    text: str
    to: int | None = None
    after: int | None = None
    lang: str = "en"
    flag: str | None = None
    expect: str | None = None


@dataclass(frozen=True)
class Thread:
    platform: str
    start: str  # "D<day> HH:MM", day 1 = Monday 9 March 2026
    steps: tuple[Step, ...]
    tags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Script:
    """The whole sample: the cast by key, and the threads in the order they are written."""

    cast: dict[str, Person]
    threads: tuple[Thread, ...]


class ScriptError(ValueError):
    """A script that cannot become a corpus; lists every problem, each with where it is."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s):\n{listed}")


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys: PyYAML keeps the last one silently,
    which would let a second ``dev:`` in the cast replace the first unnoticed."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list"}
_PERSON_FIELDS: dict[str, type] = {
    "name": str,
    "bio": str,
    "followers": int,
    "x": str,
    "mastodon": str,
    "bluesky": str,
    "verified": bool,
}
_THREAD_FIELDS: dict[str, type] = {"platform": str, "start": str, "tags": list, "posts": list}
_STEP_FIELDS: dict[str, type] = {
    "who": str,
    "text": str,
    "to": int,
    "after": int,
    "lang": str,
    "flag": str,
    "expect": str,
}
_START = re.compile(r"D[1-9][0-9]* (?:[01][0-9]|2[0-3]):[0-5][0-9]")
_LANG = re.compile(r"[a-z]{2,3}")
_TAG = re.compile(r"[a-z][a-z_]*")


def _is(value: Any, kind: type) -> bool:
    """``isinstance``, except that YAML's ``true`` is not an integer."""
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _fields(
    raw: Any,
    where: str,
    allowed: dict[str, type],
    required: tuple[str, ...],
    problems: list[str],
) -> dict[str, Any] | None:
    """The fields of one mapping that are known and of the right type; the rest are problems.

    Returns ``None`` when ``raw`` is not a mapping or lacks a required field, so
    the caller skips checks that would only repeat the same problem.
    """
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping of fields, got {raw!r}")
        return None
    good: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in allowed:
            known = ", ".join(allowed)
            problems.append(f"{where}: unknown field {name!r} (known fields: {known})")
        elif not _is(value, allowed[name]):
            problems.append(f"{where}: {name} must be {_TYPE_NAMES[allowed[name]]}, got {value!r}")
        else:
            good[name] = value
    missing = [name for name in required if name not in raw]
    for name in missing:
        problems.append(f"{where}: missing field {name!r}")
    return None if missing or any(name not in good for name in required) else good


def _person(key: Any, raw: Any, problems: list[str]) -> Person | None:
    where = f"cast.{key}"
    if not isinstance(key, str) or not key:
        problems.append(f"cast: a cast key must be a non-empty string, got {key!r}")
        return None
    fields = _fields(raw, where, _PERSON_FIELDS, ("name", "bio", "followers"), problems)
    if fields is None:
        return None
    if fields["followers"] < 0:
        problems.append(f"{where}: followers must not be negative, got {fields['followers']}")
    if not any(fields.get(platform) for platform in PLATFORMS):
        problems.append(f"{where}: needs a handle on at least one of {', '.join(PLATFORMS)}")
        return None
    return Person(**fields)


def _own(person: Person, platform: str) -> bool:
    """Whether the person posts as the council on this platform, by the council profile."""
    return normalize_handle(person.handle(platform)) in council().own_handles()


def _step(
    raw: Any,
    where: str,
    index: int,
    platform: str | None,
    cast: Mapping[str, Person | None],
    problems: list[str],
) -> Step | None:
    before = len(problems)
    fields = _fields(raw, where, _STEP_FIELDS, ("who", "text"), problems)
    if fields is None:
        return None
    who, text = fields["who"], fields["text"]
    person = cast.get(who)
    if who not in cast:
        problems.append(f"{where}: who: unknown cast member {who!r}")
    elif person is None:
        pass  # the cast entry is broken, and already reported
    elif platform is not None and getattr(person, platform) is None:
        problems.append(f"{where}: who: {who!r} has no {platform} account")
    if not text.strip():
        problems.append(f"{where}: text must not be empty")
    elif text != text.strip():
        problems.append(f"{where}: text must not start or end with white space")
    for name in ("to", "after"):
        if index == 0 and name in fields:
            problems.append(f"{where}: {name}: the first post of a thread replies to nothing")
    if "to" in fields and index > 0 and not 0 <= fields["to"] < index:
        problems.append(
            f"{where}: to must be the index of an earlier post (0 to {index - 1}), "
            f"got {fields['to']}"
        )
    if "after" in fields and fields["after"] < 0:
        problems.append(f"{where}: after must not be negative, got {fields['after']}")
    if "lang" in fields and not _LANG.fullmatch(fields["lang"]):
        problems.append(f"{where}: lang must be a language code like 'en', got {fields['lang']!r}")
    if "flag" in fields and fields["flag"] not in FLAGS:
        problems.append(f"{where}: flag must be one of {', '.join(FLAGS)}, got {fields['flag']!r}")
    if "expect" in fields:
        if fields["expect"] not in ACTIONS:
            problems.append(
                f"{where}: expect must be one of {', '.join(ACTIONS)}, got {fields['expect']!r}"
            )
        elif person and platform and getattr(person, platform) and _own(person, platform):
            problems.append(
                f"{where}: expect: {who!r} posts as the council; leave expect unset on "
                "our own posts"
            )
    return Step(**fields) if len(problems) == before else None


def _thread(
    raw: Any, index: int, cast: Mapping[str, Person | None], problems: list[str]
) -> Thread | None:
    where = f"threads[{index}]"
    if isinstance(raw, dict):  # name the thread the way a writer finds it in the file
        where += f" ({raw.get('platform')} {raw.get('start')})"
    before = len(problems)
    fields = _fields(raw, where, _THREAD_FIELDS, ("platform", "start", "posts"), problems)
    if fields is None:
        return None
    platform: str | None = fields["platform"]
    if platform not in PLATFORMS:
        problems.append(
            f"{where}: platform must be one of {', '.join(PLATFORMS)}, got {platform!r}"
        )
        platform = None
    if not _START.fullmatch(fields["start"]):
        problems.append(f"{where}: start must look like 'D1 07:12', got {fields['start']!r}")
    tags = fields.get("tags", [])
    for tag in tags:
        if not isinstance(tag, str) or not _TAG.fullmatch(tag):
            problems.append(f"{where}: tags: a tag must be a lower-case word, got {tag!r}")
    if not fields["posts"]:
        problems.append(f"{where}: posts must not be empty")
    steps = [
        _step(post, f"{where} posts[{i}]", i, platform, cast, problems)
        for i, post in enumerate(fields["posts"])
    ]
    if len(problems) > before or platform is None:
        return None
    return Thread(
        platform,
        fields["start"],
        tuple(s for s in steps if s is not None),
        frozenset(tags),
    )


def parse_script(text: str, source: str = "<script>") -> Script:
    """The cast and threads of a YAML script; raises :class:`ScriptError` naming every problem."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as error:
        raise ScriptError(source, [f"not valid YAML: {error}"]) from error
    problems: list[str] = []
    top = _fields(data, "top level", {"cast": dict, "threads": list}, ("cast", "threads"), problems)
    if top is None:
        raise ScriptError(source, problems)
    cast: dict[str, Person] = {}
    for key, raw in top["cast"].items():
        person = _person(key, raw, problems)
        if person is not None:
            cast[key] = person
    if not top["threads"]:
        problems.append("threads: there must be at least one thread")
    # A member whose entry is broken is known (None): their posts are not "unknown" too.
    known: dict[str, Person | None] = {key: cast.get(key) for key in top["cast"]}
    threads = [_thread(raw, i, known, problems) for i, raw in enumerate(top["threads"])]
    if problems:
        raise ScriptError(source, problems)
    return Script(cast, tuple(t for t in threads if t is not None))


def load_script(path: Path = SCRIPT) -> Script:
    """The script in ``path`` (by default ``tools/sample_corpus.yaml``)."""
    return parse_script(path.read_text(encoding="utf-8"), str(path))


@cache
def script() -> Script:
    """The committed script, read once: build, summary and the tests share it."""
    return load_script()


@cache
def council() -> Organisation:
    """The council profile the corpus is written for; ``expect`` labels are for it."""
    return load_profile(COUNCIL_PROFILE)


# --------------------------------------------------------------------------- ids

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # Bluesky's sortable base32
_PLC_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # did:plc identifiers
_X_EPOCH_MS = 1288834974657  # X snowflake epoch
_AUDIENCE_SHARE = {"x": 1.0, "bluesky": 0.35, "mastodon": 0.2}


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest(), "big")


def _base32(value: int, alphabet: str, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(alphabet[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _did(handle: str) -> str:
    return "did:plc:" + _base32(_digest("did", handle), _PLC_ALPHABET, 24)


def author_id(platform: str, handle: str) -> str:
    """Stable, platform-shaped author ids: numeric on X and Mastodon, a DID on Bluesky."""
    if platform == "bluesky":
        return f"bluesky:{_did(handle)}"
    if platform == "mastodon":
        return f"mastodon:{109_000_000_000_000_000 + _digest(platform, handle) % 10**15}"
    return f"x:{10**17 + _digest(platform, handle) % (9 * 10**17)}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def native_post_id(platform: str, handle: str, moment: datetime, rng: random.Random) -> str:
    """Ids that sort by time, as each platform's do, so the corpus looks like a capture."""
    if platform == "x":
        snowflake = ((_ms(moment) - _X_EPOCH_MS) << 22) | (rng.randrange(1 << 22))
        return str(snowflake)
    if platform == "mastodon":
        return str((_ms(moment) << 16) | rng.randrange(1 << 16))
    micros = _ms(moment) * 1000 + rng.randrange(1000)
    return _base32((micros << 10) | rng.randrange(1 << 10), _TID_ALPHABET, 13)


def post_id_and_url(platform: str, handle: str, native: str) -> tuple[str, str]:
    if platform == "x":
        return f"x:{native}", f"https://x.example/{handle}/status/{native}"
    if platform == "mastodon":
        name, instance = handle.split("@", 1)
        return f"mastodon:{native}", f"https://{instance}/@{name}/{native}"
    uri = f"at://{_did(handle)}/app.bsky.feed.post/{native}"
    return f"bluesky:{uri}", f"https://bsky.example/profile/{handle}/post/{native}"


# --------------------------------------------------------------------------- build


def _author(person: Person, platform: str) -> dict[str, Any]:
    handle = person.handle(platform)
    first = next(p for p in PLATFORMS if getattr(person, p) is not None)
    share = 1.0 if platform == first else _AUDIENCE_SHARE[platform]
    return {
        "id": author_id(platform, handle),
        "handle": handle,
        "display_name": person.name,
        "bio": person.bio,
        "followers": int(person.followers * share),
        "following": 40 + _digest("following", platform, handle) % 900,
        "verified": person.verified,
        "is_org_account": False,
    }


def _start(spec: str, rng: random.Random) -> datetime:
    day, clock = spec.split()
    hours, minutes = (int(part) for part in clock.split(":"))
    offset = timedelta(days=int(day[1:]) - 1, hours=hours, minutes=minutes)
    return FIRST_DAY + offset + timedelta(seconds=rng.randrange(60))


def _delay(step: Step, rng: random.Random) -> timedelta:
    if step.after is not None:
        minutes = step.after
    elif step.who in ("council", "libs"):
        minutes = rng.randint(20, 150)  # staffed accounts answer within office routines
    else:
        minutes = rng.randint(2, 75)
    return timedelta(minutes=minutes, seconds=rng.randrange(60))


def _with_reply_prefix(platform: str, text: str, author: str, parent_handle: str) -> str:
    """X and Mastodon clients start a reply with the parent author's handle."""
    if platform == "bluesky" or text.startswith("@") or author == parent_handle:
        return text
    return f"@{parent_handle} {text}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Built:
    """A post as written to the corpus, plus what the script says about it (never written)."""

    record: dict[str, Any]
    created: datetime
    flag: str | None
    expect: str | None = None


def build(rng: random.Random | None = None, source: Script | None = None) -> list[Built]:
    """Every post of every thread, in file order (created_at, then id).

    The random draws happen in script order, so reordering threads or posts in
    the YAML changes the corpus; ``--check`` tells.
    """
    rng = rng or random.Random(SEED)
    source = source or script()
    built: list[Built] = []
    for thread in source.threads:
        platform = thread.platform
        posts: list[Built] = []
        for index, step in enumerate(thread.steps):
            author = _author(source.cast[step.who], platform)
            parent = None if index == 0 else posts[index - 1 if step.to is None else step.to]
            if parent is None:
                created = _start(thread.start, rng)
                text = step.text
            else:
                created = parent.created + _delay(step, rng)
                parent_author = parent.record["author"]
                text = _with_reply_prefix(
                    platform, step.text, author["handle"], parent_author["handle"]
                )
            native = native_post_id(platform, author["handle"], created, rng)
            post_id, url = post_id_and_url(platform, author["handle"], native)
            record: dict[str, Any] = {
                "kind": "post",
                "id": post_id,
                "platform": platform,
                "url": url,
                "created_at": _iso(created),
                "lang": step.lang,
                "text": text,
                "author": author,
                "conversation_id": posts[0].record["id"] if posts else post_id,
                "in_reply_to": None
                if parent is None
                else {"post_id": parent.record["id"], "author_id": parent.record["author"]["id"]},
                "mentions": unique([span.value for span in find_mentions(text)]),
                "hashtags": unique([span.value for span in find_hashtags(text)]),
                "links": unique([span.value for span in find_links(text)]),
                "metrics": {},
            }
            posts.append(Built(record, created, step.flag, step.expect))
        built.extend(posts)
    _fill_metrics(built, rng)
    built.sort(key=lambda b: (b.created, b.record["id"]))
    return built


def _fill_metrics(built: list[Built], rng: random.Random) -> None:
    """Reply counts are the replies in the corpus; likes and shares scale with reach."""
    replies = Counter(
        b.record["in_reply_to"]["post_id"] for b in built if b.record["in_reply_to"] is not None
    )
    for b in built:
        followers = b.record["author"]["followers"]
        is_root = b.record["in_reply_to"] is None
        if b.flag in ("spam", "abusive"):
            likes = rng.randint(0, 2)
        else:
            reach = 2 + followers**0.5 * (0.6 if is_root else 0.1)
            likes = rng.randint(0, int(reach))
        shares = rng.randint(0, likes // 4) if is_root else rng.randint(0, likes // 10)
        b.record["metrics"] = {"likes": likes, "shares": shares, "replies": replies[b.record["id"]]}


def render(built: list[Built] | None = None) -> str:
    """The corpus file's exact text: one JSON object per line, validated against the model."""
    lines = []
    for b in build() if built is None else built:
        CanonicalPost.model_validate(b.record)
        lines.append(json.dumps(b.record, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def expected_actions(built: list[Built] | None = None) -> dict[str, str]:
    """Post id -> the action a careful community manager would take, for labelled posts only.

    The ids are the corpus's, so a test can line the labels up with what the
    product recommends for the same posts.
    """
    return {
        b.record["id"]: b.expect
        for b in (build() if built is None else built)
        if b.expect is not None
    }


# --------------------------------------------------------------------------- summary


def conversation_states(
    posts: Iterable[CanonicalPost], org: Organisation | None = None
) -> dict[str, ConversationState]:
    """Each conversation's state after all its posts, by :func:`processors.conversation.apply_post`.

    The summary and the tests ask "who is owed a reply?" through the same rule
    the enrich stage applies (own posts, posts directed at us, stepping back),
    so a change to that rule shows up here instead of drifting from a copy.
    ``posts`` must be in time order, as the corpus file is.
    """
    org = org or council()
    states: dict[str, ConversationState] = {}
    for post in posts:
        states[post.conversation_id] = apply_post(states.get(post.conversation_id), post, org)
    return states


def summary(built: list[Built], source: Script | None = None) -> dict[str, int]:
    """Counts that show whether the corpus still covers every branch the demo needs."""
    source = source or script()
    states = conversation_states(CanonicalPost.model_validate(b.record) for b in built)
    awaiting = {c for c, state in states.items() if state.awaiting_org_reply}
    junk = {
        b.record["conversation_id"]
        for b in built
        if b.record["in_reply_to"] is None and b.flag in ("spam", "abusive")
    }
    counts: dict[str, int] = {
        "posts": len(built),
        "threads": len(states),
        "threads_with_own_post": sum(1 for state in states.values() if state.own_posts),
        "threads_addressing_us": sum(
            1 for state in states.values() if any(ref.answers_org for ref in state.posts)
        ),
        "threads_awaiting_reply": len(awaiting),
        "threads_awaiting_reply_excluding_spam_abuse": len(awaiting - junk),
        "threads_stepping_back": sum(
            1 for state in states.values() if state.unanswered_org_posts >= 2
        ),
    }
    for platform in PLATFORMS:
        counts[f"posts_{platform}"] = sum(1 for b in built if b.record["platform"] == platform)
    for flag in FLAGS:
        counts[f"posts_{flag}"] = sum(1 for b in built if b.flag == flag)
    for action in ACTIONS:
        counts[f"posts_expect_{action}"] = sum(1 for b in built if b.expect == action)
    for tag, n in sorted(Counter(t for thread in source.threads for t in thread.tags).items()):
        counts[f"threads_tagged_{tag}"] = n
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    parser.add_argument("--summary", action="store_true", help="print counts, write nothing")
    parser.add_argument("--script", type=Path, default=SCRIPT, help="the YAML script to read")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    try:
        source = load_script(args.script)
    except ScriptError as error:
        print(error, file=sys.stderr)
        return 2
    built = build(source=source)
    if args.summary:
        for key, value in summary(built, source).items():
            print(f"{key:48} {value}")
        return 0
    text = render(built)
    if args.check:
        current = args.out.read_bytes().decode("utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale; run: python tools/make_sample_corpus.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8", newline="")
    print(f"wrote {len(built)} posts to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
