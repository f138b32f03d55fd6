"""``townsquare ingest SOURCE``: one command per source, all feeding ``posts.raw``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from streams.cli.console import console, err, fail, plain, progress, safe
from streams.settings import get_settings
from streams.sources.readers import READER_FORMATS

if TYPE_CHECKING:
    from streams.sources.base import RunReport, Stopper
    from streams.sources.replay import ReplayReport

ingest_app = typer.Typer(help="Put posts from a source onto the raw topic.", no_args_is_help=True)


FORMATS_HELP = (
    f"File format: {', '.join(READER_FORMATS)} (jsonl: canonical posts). A file whose first "
    "records read as another format is refused, naming the one to pass."
)
"""The --format help of replay and enrich, from the readers' own list so it cannot drift."""


@ingest_app.command("replay")
def ingest_replay(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="File to replay.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMATS_HELP)] = "jsonl",
    rate: Annotated[
        float | None, typer.Option(help="Records per second (default: as fast as Kafka takes).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Stop after this many records.")] = None,
    resume: Annotated[
        bool, typer.Option(help="Start where the last replay of this file stopped.")
    ] = False,
) -> None:
    """Replay a file of posts onto the raw topic, with a progress bar.

    Reports the records sent as posts, those normalize will dead-letter (with
    the reason) and those skipped at the edge; exits 1 when none was valid.
    Ctrl-C stops after the current record and stores the position, so
    --resume goes on with the next one.
    """
    from streams.sources.base import IngestError, Stopper
    from streams.sources.readers import (
        UnknownFormat,
        WrongFormat,
        check_file_format,
        check_format,
        count_records,
    )
    from streams.sources.replay import replay_file
    from streams.topic_names import DLQ, RAW

    try:
        check_format(fmt)
        check_file_format(path, fmt)
    except (UnknownFormat, WrongFormat) as exc:
        fail(str(exc))
    settings = get_settings()
    total = count_records(path, fmt)
    stopper = Stopper()
    try:
        with progress() as bar, _stopped_by_signals(stopper):
            task = bar.add_task(safe(f"replaying {path.name}"), total=min(total, limit or total))
            report = replay_file(
                settings,
                path,
                fmt,
                rate=rate,
                limit=limit,
                resume=resume,
                on_progress=lambda n: bar.advance(task, n),
                stopper=stopper,
            )
    except IngestError as exc:
        fail(
            f"{exc}. The stored position covers only records Kafka acknowledged; fix the "
            "cause (for a size refusal: the raw topic's max.message.bytes) and run again "
            "with --resume."
        )
    for line in replay_lines(report, path, settings.topic(RAW), settings.topic(DLQ)):
        console.print(line)
    if report.stopped:
        err.print(
            plain(
                f"interrupted: the position ({report.end}) is stored; "
                f"`townsquare ingest replay {path} --resume` goes on with the next record"
            ),
            soft_wrap=True,
        )
        raise typer.Exit(130)
    if report.valid == 0 and (report.will_dead_letter or report.skipped):
        fail(f"nothing valid was sent from {path}: {_refusal_summary(report) or 'all skipped'}")


@contextmanager
def _stopped_by_signals(stopper: Stopper) -> Iterator[None]:
    """SIGINT/SIGTERM stop the replay between two records instead of inside a Kafka call.

    A ``KeyboardInterrupt`` raised in the middle of the producer could leave a
    send half done; a flag checked between records cannot. A second Ctrl-C
    quits at once (the position stored then may be an older checkpoint).
    Signals reach only the main thread, so elsewhere (tests) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def stop(signum: int, frame: object) -> None:
        stopper.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the second Ctrl-C: now

    for sig in previous:
        signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _refusal_summary(report: ReplayReport) -> str:
    parts = [f"{reason} {n}" for reason, n in report.dead_lettered.most_common()]
    if report.skipped:
        parts.append(f"{report.skipped} skipped at the edge")
    return ", ".join(parts)


def replay_lines(report: ReplayReport, path: Path, raw: str, dlq: str) -> list[Text]:
    """What a replay did: posts sent, records normalize will dead-letter, records skipped.

    The first line always carries the three counts, so a script can read
    them; the lines after it say why, with the first record of each reason.
    """
    lines = [
        plain(
            f"sent {report.valid} records, {report.will_dead_letter} to be dead-lettered, "
            f"{report.skipped} skipped, from {path.name} (positions {report.start}..{report.end}) "
            f"in {report.seconds:.1f}s to {raw}"
        )
    ]
    if report.will_dead_letter:
        lines.append(
            plain(
                f"  {report.will_dead_letter} records the adapters refuse went out too: normalize "
                f"puts them on {dlq} with their reason and original bytes",
                style="yellow",
            )
        )
        for reason, n in report.dead_lettered.most_common():
            first = report.first_refusals[reason]
            lines.append(
                plain(f"    {reason} {n}, first at position {first.position}: {first.error[:200]}")
            )
    if report.skipped:
        lines.append(
            plain(
                f"  {report.skipped} records skipped at the edge (too large to send); "
                "the log names each",
                style="yellow",
            )
        )
    return lines


# --- live sources -------------------------------------------------------------------
# Each live command runs one source until SIGTERM/SIGINT, --max-runtime or --max-posts.
# Credentials come only from the environment (see streams/sources/credentials.py): a
# token on the command line would show in `ps` and in pod specs.

MaxRuntime = Annotated[
    float | None,
    typer.Option(
        "--max-runtime", min=0, help="Stop after this many seconds (default: run until stopped)."
    ),
]
MaxPosts = Annotated[
    int | None,
    typer.Option(
        "--max-posts", min=1, help="Stop after sending this many records (default: no limit)."
    ),
]


def _run_live(
    source: str, follow: Callable[[Stopper], RunReport], max_runtime: float | None
) -> None:
    """Run a source with logging and signal handling; report what it sent, or fail helpfully."""
    import logging.config

    from streams.logs import logging_config
    from streams.metrics import serve_metrics
    from streams.sources.base import IngestError, Stopper

    settings = get_settings()
    if not logging.getLogger().handlers:  # a host (tests, an embedding app) may have set it up
        logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))
    serve_metrics(settings.metrics_port)  # /metrics is also the liveness probe in Kubernetes
    stopper = Stopper(max_runtime)
    main = threading.current_thread() is threading.main_thread()  # signals need the main thread
    previous = (
        {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
    )
    for sig in previous:
        signal.signal(sig, lambda *_: stopper.stop())
    try:
        report = follow(stopper)
    except IngestError as exc:
        fail(str(exc))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(  # the cursor comes from the source's own ids or timestamps
        plain(
            f"{source}: sent {report.sent} records to {settings.topic('posts.raw')} in "
            f"{report.seconds:.1f}s ({report.skipped} skipped at the edge); cursor {report.cursor}"
        )
    )


@ingest_app.command("mastodon")
def ingest_mastodon(
    base_url: Annotated[
        str, typer.Option(help="The Mastodon instance.")
    ] = "https://mastodon.social",
    hashtag: Annotated[str | None, typer.Option(help="Follow this hashtag (without #).")] = None,
    public: Annotated[bool, typer.Option("--public", help="Follow the public timeline.")] = False,
    list_id: Annotated[
        str | None, typer.Option("--list", help="Follow this list id (needs a token).")
    ] = None,
    token_env: Annotated[
        str,
        typer.Option(help="Environment variable holding the access token."),
    ] = "TOWNSQUARE_MASTODON_TOKEN",
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between REST polls when streaming fails.")
    ] = 30.0,
    context_lookups_per_minute: Annotated[
        int,
        typer.Option(
            min=0,
            help="At most this many thread-root lookups (/statuses/:id/context) a minute, "
            "for replies to posts the source has not seen; 0 turns them off.",
        ),
    ] = 30,
    max_runtime: MaxRuntime = None,
    max_posts: MaxPosts = None,
) -> None:
    """Follow a Mastodon timeline over the streaming API (SSE), backfilling over REST.

    Exactly one of --hashtag, --public or --list. Resumes from the newest status
    id it stored; on every reconnect it first fetches what it missed over REST.
    """
    from streams.sources.base import RunLimits
    from streams.sources.credentials import IngestCredentials, secret_from_env
    from streams.sources.mastodon import MastodonOptions, Timeline, run_mastodon

    chosen = [
        t for t in (("hashtag", hashtag), ("public", public or None), ("list", list_id)) if t[1]
    ]
    if len(chosen) != 1:
        fail("choose exactly one timeline: --hashtag TAG, --public or --list ID")
    kind, value = chosen[0]
    token = secret_from_env(token_env)
    if token is None and token_env == "TOWNSQUARE_MASTODON_TOKEN":
        stored = IngestCredentials().mastodon_token
        token = stored.get_secret_value() if stored else None
    options = MastodonOptions(
        base_url=base_url,
        timeline=Timeline(kind, None if kind == "public" else str(value).lstrip("#")),
        token=token,
        poll_interval=poll_interval,
        context_lookups_per_minute=context_lookups_per_minute,
    )
    limits = RunLimits(max_runtime, max_posts)
    _run_live(
        "mastodon",
        lambda stopper: run_mastodon(get_settings(), options, limits, stopper),
        max_runtime,
    )


@ingest_app.command("bluesky")
def ingest_bluesky(
    jetstream_url: Annotated[
        str, typer.Option(help="Jetstream subscribe endpoint (wss://.../subscribe).")
    ] = "wss://jetstream2.us-east.bsky.network/subscribe",
    did: Annotated[
        list[str] | None, typer.Option("--did", help="Only posts by this DID (repeatable).")
    ] = None,
    rewind: Annotated[
        float, typer.Option(help="Seconds to replay before the stored cursor on reconnect.")
    ] = 3.0,
    max_runtime: MaxRuntime = None,
    max_posts: MaxPosts = None,
) -> None:
    """Follow Bluesky posts from Jetstream (websocket), resuming from the stored time cursor."""
    from streams.sources.base import RunLimits
    from streams.sources.bluesky import BlueskyOptions, run_bluesky

    options = BlueskyOptions(
        jetstream_url=jetstream_url, dids=tuple(did or ()), rewind_seconds=rewind
    )
    limits = RunLimits(max_runtime, max_posts)
    _run_live(
        "bluesky",
        lambda stopper: run_bluesky(get_settings(), options, limits, stopper),
        max_runtime,
    )


@ingest_app.command("reddit")
def ingest_reddit(
    subreddit: Annotated[
        list[str], typer.Option("--subreddit", help="Subreddit name without r/ (repeatable).")
    ],
    base_url: Annotated[str, typer.Option(help="Reddit's base URL.")] = "https://www.reddit.com",
    interval: Annotated[float, typer.Option(min=0, help="Seconds between polls.")] = 60.0,
    requests_per_minute: Annotated[
        float, typer.Option(min=0.1, help="Upper bound of requests per minute (politeness).")
    ] = 10.0,
    max_runtime: MaxRuntime = None,
    max_posts: MaxPosts = None,
) -> None:
    """Poll new submissions and comments of subreddits (listing JSON), resuming with before=.

    The User-Agent comes from TOWNSQUARE_REDDIT_USER_AGENT; Reddit asks for a
    descriptive one with a contact.
    """
    from streams.sources.base import RunLimits
    from streams.sources.credentials import IngestCredentials
    from streams.sources.reddit import RedditOptions, run_reddit

    options = RedditOptions(
        subreddits=tuple(s.removeprefix("r/") for s in subreddit),
        user_agent=IngestCredentials().reddit_user_agent,
        base_url=base_url,
        interval=interval,
        requests_per_minute=requests_per_minute,
    )
    limits = RunLimits(max_runtime, max_posts)
    _run_live(
        "reddit", lambda stopper: run_reddit(get_settings(), options, limits, stopper), max_runtime
    )


@ingest_app.command("rss")
def ingest_rss(
    feed_url: Annotated[
        list[str] | None, typer.Argument(help="RSS or Atom feed URLs to poll.")
    ] = None,
    comments_for: Annotated[
        list[str] | None,
        typer.Option(
            "--comments-for",
            help="POST_ID=FEED_URL: a post's comment feed; its entries reply to POST_ID "
            "(the post's guid/id in its own feed). Repeatable.",
        ),
    ] = None,
    interval: Annotated[
        float, typer.Option(min=0, help="Seconds between polls of each feed.")
    ] = 300.0,
    max_runtime: MaxRuntime = None,
    max_posts: MaxPosts = None,
) -> None:
    """Poll RSS/Atom feeds (conditional GET: ETag, Last-Modified) and send new entries."""
    from streams.sources.base import RunLimits
    from streams.sources.rss import Feed, RssOptions, parse_comments_for, run_rss

    feeds = [Feed(url) for url in feed_url or []]
    try:
        feeds += [parse_comments_for(value) for value in comments_for or []]
    except ValueError as exc:
        fail(str(exc))
    if not feeds:
        fail("give at least one FEED_URL or --comments-for POST_ID=FEED_URL")
    options = RssOptions(feeds=tuple(feeds), interval=interval)
    limits = RunLimits(max_runtime, max_posts)
    _run_live("rss", lambda stopper: run_rss(get_settings(), options, limits, stopper), max_runtime)


@ingest_app.command("x")
def ingest_x(
    stream: Annotated[bool, typer.Option("--stream", help="Follow the filtered stream.")] = False,
    query: Annotated[
        str | None, typer.Option(help="Poll recent search for this query instead.")
    ] = None,
    backfill_query: Annotated[
        str | None,
        typer.Option(
            help="With --stream: search query (your rules) to fetch missed tweets on reconnect."
        ),
    ] = None,
    base_url: Annotated[str, typer.Option(help="X API base URL.")] = "https://api.x.com",
    interval: Annotated[
        float, typer.Option(min=0, help="Seconds between recent-search polls.")
    ] = 30.0,
    max_runtime: MaxRuntime = None,
    max_posts: MaxPosts = None,
) -> None:
    """Read X API v2: the filtered stream (--stream) or recent search (--query Q).

    The bearer token comes from TOWNSQUARE_X_BEARER_TOKEN. Resumes from the
    newest tweet id it stored (since_id).
    """
    from streams.sources.base import RunLimits
    from streams.sources.credentials import IngestCredentials
    from streams.sources.x import XOptions, run_x

    if stream == bool(query):
        fail("choose one: --stream or --query QUERY")
    token = IngestCredentials().x_bearer_token
    if token is None:
        fail(
            "set TOWNSQUARE_X_BEARER_TOKEN (or TOWNSQUARE_X_BEARER_TOKEN_FILE) "
            "to the app's bearer token"
        )
    options = XOptions(
        token=token.get_secret_value(),
        base_url=base_url,
        query=query,
        backfill_query=backfill_query,
        interval=interval,
    )
    limits = RunLimits(max_runtime, max_posts)
    _run_live("x", lambda stopper: run_x(get_settings(), options, limits, stopper), max_runtime)


@ingest_app.command("webhook")
def ingest_webhook(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8088,
    max_bytes: Annotated[
        int, typer.Option(min=1, help="Largest accepted body in bytes (413 above).")
    ] = 256 * 1024,
    request_timeout: Annotated[
        float,
        typer.Option(
            min=0.1, help="Seconds for a whole request (headers and body) to arrive; then closed."
        ),
    ] = 10.0,
    max_connections: Annotated[
        int, typer.Option(min=1, help="Connections served at once; more are answered 503.")
    ] = 64,
    tolerance: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds a signature's timestamp may differ from our clock (replay window)."
        ),
    ] = 300.0,
    max_runtime: MaxRuntime = None,
    max_posts: MaxPosts = None,
) -> None:
    """Receive signed pushes: POST /webhook/<source> with X-Townsquare-Signature: t=<unix>,v1=<hex>.

    v1 is the HMAC-SHA256 of "<t>.<path>." + body, keyed by TOWNSQUARE_WEBHOOK_SECRET (or
    TOWNSQUARE_WEBHOOK_SECRET_FILE); during a rotation TOWNSQUARE_WEBHOOK_SECRET_PREVIOUS is
    accepted too. 202 means Kafka has the post. GET /healthz for probes.
    """
    from streams.sources.base import RunLimits
    from streams.sources.credentials import IngestCredentials
    from streams.sources.webhook import WebhookOptions, run_webhook

    credentials = IngestCredentials()
    secret = credentials.webhook_secret
    if secret is None or not secret.get_secret_value():
        fail(
            "set TOWNSQUARE_WEBHOOK_SECRET (or TOWNSQUARE_WEBHOOK_SECRET_FILE): "
            "unsigned pushes are refused"
        )
    previous = credentials.webhook_secret_previous
    previous_value = previous.get_secret_value() if previous is not None else ""
    options = WebhookOptions(
        secret=secret.get_secret_value().encode(),
        previous_secret=previous_value.encode() or None,
        host=host,
        port=port,
        max_bytes=max_bytes,
        request_timeout=request_timeout,
        max_connections=max_connections,
        tolerance=tolerance,
    )
    limits = RunLimits(max_runtime, max_posts)
    _run_live(
        "webhook",
        lambda stopper: run_webhook(get_settings(), options, limits, stopper),
        max_runtime,
    )
