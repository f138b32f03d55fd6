"""Respectful listening: pseudonyms instead of people, and redaction of personal posts.

Two pure transformations, so the stream and ``townsquare enrich`` apply the
very same rules:

* **Pseudonymisation** (``TOWNSQUARE_PSEUDONYMISE``, applied at normalize, so
  no topic after ``posts.raw``, no table and no index learns who wrote a
  post). :class:`Pseudonymiser` turns an author id or a handle into a keyed
  hash; :meth:`Pseudonymiser.pseudonymise_post` rewrites a canonical post and
  :func:`pseudonymise_organisation` rewrites the profile the same way, so
  "is this one of ours / on a list / opted out?" is still answered, on hashes.
* **Redaction** (the profile's ``redact_personal_topics``): :func:`redact`
  empties everything that quotes a post about grief, health, children or
  self-harm and keeps what a team needs to act and to erase a person later.

Pseudonyms
----------
``HMAC-SHA256(key, value)`` in hex, truncated to 32 characters (128 bits),
prefixed ``anon-``:

* author ids keep their platform: ``mastodon:1234`` -> ``mastodon:anon-<hex>``
  (code splits ids on the first ``:``), hashed over the native id exactly as
  the platform wrote it (ids can be case-sensitive, so they are not folded);
* handles are hashed over :func:`~processors.profile.normalize_handle`, so
  ``@Alice@Social.Example`` and ``alice@social.example`` get one pseudonym.

The key makes the hash a pseudonym rather than a lookup table: without it, a
dictionary of likely handles cannot be hashed and compared. The same key
gives the same pseudonym in every process and on every run (no salt, no
randomness), so a conversation still links its posts; changing the key breaks
every link to earlier pseudonyms.

What a pseudonymised post keeps and loses
-----------------------------------------
Replaced: ``author.id``, ``author.handle``, every entry of ``mentions``,
``in_reply_to.author_id``, and every ``@handle`` or ``@handle@domain`` in
the text (found by :func:`processors.text.find_mentions`, the definition the
adapters fill ``mentions`` with: an ``@`` not preceded by a word character,
``@`` or ``/``, a local part of letters, digits, ``_``, ``.`` and ``-`` that
starts and ends with a letter, digit or ``_``, optionally ``@`` and a dotted
domain), then any ``@`` + one of the post's own handles that is left (after
a ``/`` in a bare ``host/@name``, or ``@@name``). Dropped: ``display_name``,
``bio``, ``url`` (post URLs carry the author's handle) and every link that
contains one of the post's handles (the author's or a mentioned one, full or
local part, as a whole token, case-insensitively), in ``links`` and in the
text, where it becomes ``[link]``. Deletes are treated alike. Not caught: a
handle written without ``@`` ("thanks alice"), an e-mail address, and links
naming somebody who is neither the author nor mentioned.

Matching that works, and what cannot
------------------------------------
:func:`pseudonymise_organisation` hashes own accounts, aliases, every people
list and ``opt_out`` with the same key, each entry in its full normalized
form and, for an entry with a domain, in its local part too, so the profile's
``@council@social.example`` matches a post by ``council@social.example`` or
by ``council`` (the two forms ``_handle_set`` matches in the clear). Hence
``is_own_post``, ``mentions_us``, ``replies_to_us`` through the thread's own
author ids, the stakeholder lists and ``opted_out`` work unchanged on hashes.
What cannot work pseudonymised:

* **names**: a people list's display names ("Jane Smith") and
  ``opt_out`` entries that are names never match (display names are dropped);
* **a list entry without a domain against a handle with one**: in the clear,
  the stakeholder lists also match a post by ``reporter@press.example``
  against the entry ``reporter`` (the post's local part); the pseudonym of
  the post's handle is one hash, so that match is lost. Conversely an entry
  ``reporter@press.example`` now also matches a post by bare ``reporter``,
  as own accounts always did;
* **anything read from the author's bio or handle domain**: bio role words
  (journalist, councillor), bio e-mails and links and the handle's instance
  on ``employee_domains``;
* **a parent id that carries the handle** (``replies_to_us`` on
  ``x:OurDesk``): the id is hashed over the native id as written, the own
  handles over their normalized form, so they agree only when the native id
  already is lower case; a reply is still found through the thread's state;
* **untagged naming by handle**: the reading counts "AcmeBank is down" as
  naming us through the local parts of own handles and aliases; on a
  pseudonymised profile those are hashes, so only ``name`` and the gazetteer
  are matched;
* **names inside a mention**: the gazetteer finds "Priya Hollis" in
  ``@PriyaHollisMP``; the hashed mention names nobody, so a post that only
  tags a listed official no longer "names" them;
* **code that reads a handle as "@ and word characters"** stops at the ``-``
  of ``anon-``: ``reading._passing`` then takes a mention at the end of a
  post for one in passing, and the classifiers' preprocessing keeps the hex
  as a word. On the sample corpus 4 of 323 actions and 1 of 15 worked
  examples differ from the plain run (``tests/processors/test_enrich.py``
  marks that one).

Redaction
---------
See :func:`redact`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from processors.profile import LISTS, Organisation, normalize_handle
from processors.reading import PERSONAL_SIGNALS
from processors.text import find_links, find_mentions
from schemas.models import CanonicalPost, EnrichedPost

__all__ = [
    "ANON_PREFIX",
    "REDACTED_FLAGS",
    "Pseudonymiser",
    "pseudonymise_organisation",
    "redact",
    "touches_personal",
]

ANON_PREFIX = "anon-"
"""Every pseudonym starts with it, so a reader (and a test) can tell one at a glance."""
DIGEST_CHARS = 32
"""Hex characters kept of the HMAC-SHA256: 128 bits.

A collision between two people needs about 2**64 distinct accounts (birthday
bound), far beyond any deployment, while the shorter value halves the bytes
every document, keyword field and table entry spends on ids. Guessing the
input is prevented by the secret key, not by the length.
"""
LINK_PLACEHOLDER = "[link]"
"""What a link that names one of the post's people becomes in the text."""


class Pseudonymiser:
    """Keyed, stable pseudonyms for author ids and handles (see the module docstring)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("a pseudonym key must not be empty")
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymiser(key=**********)"  # never the key, not even in a traceback

    def _digest(self, value: str) -> str:
        mac = hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return ANON_PREFIX + mac.hexdigest()[:DIGEST_CHARS]

    def author_id(self, author_id: str) -> str:
        """``mastodon:1234`` -> ``mastodon:anon-<hex>``; the platform prefix is kept."""
        platform, sep, native = author_id.partition(":")
        if not sep:
            return self._digest(author_id)
        return f"{platform}:{self._digest(native)}"

    def handle(self, handle: str) -> str:
        """``@Alice@Social.Example`` -> ``anon-<hex>`` of ``alice@social.example``."""
        return self._digest(normalize_handle(handle))

    def handle_forms(self, handle: str) -> list[str]:
        """A profile entry's pseudonyms: its full form, and its local part if it has a domain."""
        full = normalize_handle(handle)
        if not full:
            return []
        forms = [full]
        local = full.split("@", 1)[0]
        if local and local != full:
            forms.append(local)
        return [self._digest(f) for f in forms]

    def pseudonymise_post(self, post: CanonicalPost) -> CanonicalPost:
        """``post`` with nobody named in it (see the module docstring for exactly what)."""
        forms = _people(post)
        text = self._rewrite_text(post.text, forms)
        author = post.author.model_copy(
            update={
                "id": self.author_id(post.author.id),
                "handle": self.handle(post.author.handle) if post.author.handle else None,
                "display_name": None,
                "bio": None,
            }
        )
        reply = post.in_reply_to
        if reply is not None and reply.author_id is not None:
            reply = reply.model_copy(update={"author_id": self.author_id(reply.author_id)})
        mentions = list(dict.fromkeys(self.handle(m) for m in post.mentions if normalize_handle(m)))
        return post.model_copy(
            update={
                "author": author,
                "url": None,
                "text": text,
                "mentions": mentions,
                "in_reply_to": reply,
                "links": [link for link in post.links if not _names_any(link, forms)],
            }
        )

    def _rewrite_text(self, text: str, forms: frozenset[str]) -> str:
        if not text:
            return text
        text = _replace_spans(
            text,
            (
                (s.start, s.end, LINK_PLACEHOLDER)
                for s in find_links(text)
                if _names_any(s.value, forms)
            ),
        )
        text = _replace_spans(
            text, ((s.start, s.end, "@" + self.handle(s.value)) for s in find_mentions(text))
        )
        lowered = text.lower()
        left = sorted((f for f in forms if "@" + f in lowered), key=len, reverse=True)
        if left:
            # "@name" where find_mentions does not look (after a "/", or "@@name"); a
            # longer handle that merely starts with the name is somebody else.
            pattern = re.compile(
                "@(" + "|".join(re.escape(f) for f in left) + r")(?![\w.@-]*\w)", re.IGNORECASE
            )
            text = pattern.sub(lambda m: "@" + self.handle(m.group(1)), text)
        return text


def _people(post: CanonicalPost) -> frozenset[str]:
    """The post's handles (author, listed and written mentions), normalized, full and local."""
    handles = [post.author.handle or "", *post.mentions]
    handles += [s.value for s in find_mentions(post.text)]
    out: set[str] = set()
    for handle in handles:
        full = normalize_handle(handle)
        if full:
            out.add(full)
            out.add(full.split("@", 1)[0])
    out.discard("")
    return frozenset(out)


def _names_any(link: str, forms: frozenset[str]) -> bool:
    """True when one of ``forms`` is a whole token of ``link`` (case-insensitive)."""
    lowered = link.lower()
    return any(
        re.search(rf"(?<![a-z0-9_]){re.escape(f)}(?![a-z0-9_])", lowered)
        for f in forms
        if f in lowered
    )


def _replace_spans(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end) span, in order and not overlapping, replaced."""
    out: list[str] = []
    pos = 0
    for start, end, replacement in spans:
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _hashed_entries(values: Iterable[str], p: Pseudonymiser) -> list[str]:
    out: list[str] = []
    for value in values:
        out.extend(p.handle_forms(value))
    return list(dict.fromkeys(out))


def pseudonymise_organisation(org: Organisation, p: Pseudonymiser) -> Organisation:
    """``org`` with every handle and author id hashed as :class:`Pseudonymiser` hashes posts.

    ``opt_out`` entries with a ``:`` are author ids (``platform:native``) and are
    hashed as ids; the others are handles. The result is a new validated
    profile, so its derived sets are built from the hashes.
    """
    update: dict[str, object] = {
        "accounts": {
            platform: _hashed_entries(handles, p) for platform, handles in org.accounts.items()
        },
        "aliases": _hashed_entries(org.aliases, p),
        "opt_out": list(
            dict.fromkeys(
                form
                for entry in org.opt_out
                for form in (
                    [p.author_id(entry.strip())] if ":" in entry else p.handle_forms(entry)
                )
            )
        ),
    }
    for name in LISTS:
        update[name] = _hashed_entries(getattr(org, name), p)
    return Organisation.model_validate({**org.model_dump(), **update})


# --- redaction -------------------------------------------------------------------------

REDACTED_FLAGS = frozenset(PERSONAL_SIGNALS)
"""Sensitivity flags that make a post redacted when the profile asks for it."""
_RULE = re.compile(r"\[rule: ([a-z_]+)\]")
STAKEHOLDER_REASON = "Evidence redacted: the post touches on a personal topic."


def touches_personal(post: EnrichedPost) -> bool:
    """True when the post's sensitivity flags include grief, health, minors or self-harm."""
    return not REDACTED_FLAGS.isdisjoint(post.sensitivity.flags)


def redact(post: EnrichedPost) -> EnrichedPost:
    """``post`` with everything that quotes it removed, and ``redacted=True``.

    Emptied: text, links, mentions, hashtags, entities, url, the author's
    display name and bio, and every signal's evidence. Reasons quote evidence
    (a matched phrase, a name, a bio word), so rather than guess which ones
    are safe every reason is replaced by a fixed one: joinability keeps one
    line naming the action and its policy rule (a fixed identifier) and one
    "Touches on <flag> (redacted)." per sensitivity flag; each stakeholder
    keeps its label and score with :data:`STAKEHOLDER_REASON`. Kept: ids,
    times, platform, language, metrics, the author's id and handle (needed to
    erase a person later), flags, scores, components, the action, the
    stakeholder labels and scores, the reading's labels and signal scores, and
    the conversation id and summary. Unconditional: call it when
    :func:`touches_personal` and the profile's ``redact_personal_topics`` say so.
    """
    j = post.joinability
    rule = next((m.group(1) for r in j.reasons if (m := _RULE.search(r))), None)
    reasons = [
        f"Recommended: {j.action.replace('_', ' ')}"
        + (f" [rule: {rule}]" if rule else "")
        + "; the details are redacted."
    ]
    reasons += [
        f"Touches on {flag.replace('_', '-')} (redacted)." for flag in post.sensitivity.flags
    ]
    reading = post.reading
    if reading is not None:
        reading = reading.model_copy(
            update={"signals": [s.model_copy(update={"evidence": []}) for s in reading.signals]}
        )
    return post.model_copy(
        update={
            "text": "",
            "links": [],
            "mentions": [],
            "hashtags": [],
            "entities": [],
            "url": None,
            "author": post.author.model_copy(update={"display_name": None, "bio": None}),
            "reading": reading,
            "joinability": j.model_copy(update={"reasons": reasons}),
            "stakeholders": [
                s.model_copy(update={"reasons": [STAKEHOLDER_REASON]}) for s in post.stakeholders
            ],
            "redacted": True,
        }
    )
