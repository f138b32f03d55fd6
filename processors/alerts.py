"""What every alert shares, whoever raises it: a stable id and its links.

Rules, reply deadlines, spikes and silent sources raise :class:`schemas.models.Alert`
records; they all take their id from :func:`alert_id`, so the same trigger
seen twice (a replay, a redelivery after a crash, a timer firing again after
a restart) gives the same id, and the index and the notifier keep one alert.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

__all__ = ["alert_id", "discover_url"]


def alert_id(kind: str, rule: str, *trigger: str) -> str:
    """``<kind>-<sha256 of kind, rule and trigger parts>`` (32 hex characters).

    ``trigger`` names what fired: the post id for a rule, the conversation and
    the waiting post plus the level for a deadline, the spike key and its
    window start, the source and the start of its silence.
    """
    digest = hashlib.sha256("\x1f".join((kind, rule, *trigger)).encode("utf-8")).hexdigest()
    return f"{kind}-{digest[:32]}"


def discover_url(base: str | None, data_view_id: str, post_id: str | None) -> str | None:
    """A Kibana Discover link to one post, or None without a Kibana base URL or a post.

    ``data_view_id`` is the saved data view's id (``townsquare-posts`` in the
    shipped objects, deploy/kibana); the query is KQL on the post's ``id``.
    """
    if not base or not post_id:
        return None
    query = quote(f'id:"{post_id}"', safe="")
    view = quote(data_view_id, safe="")
    return (
        f"{base.rstrip('/')}/app/discover#/?_a=(index:'{view}',"
        f"query:(language:kuery,query:'{query}'))&_g=(time:(from:now-90d,to:now))"
    )
