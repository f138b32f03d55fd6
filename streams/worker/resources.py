"""What the agents need beyond topics and tables: the profile, the NER pool, the ES client.

Each is built on first use, never at import or when the app is created: a
normalize-only worker never loads spaCy or opens an Elasticsearch client, and
tests can hand in their own (a fixed profile, a fake NER, a fake client).
:class:`ResourcesService` is handed to the Faust worker, which starts it before
the app: it warms up what the roles need (:meth:`Resources.warm_up`), so a bad
profile stops the worker at once, with the profile's name, path and digest in
the log, instead of at the first post; the worker stops it after the app, and
it closes what was opened.

With ``TOWNSQUARE_PSEUDONYMISE`` the posts carry pseudonyms from normalize on,
so :attr:`Resources.org` is the profile pseudonymised with the same key
(:func:`processors.privacy.pseudonymise_organisation`), built once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import mode

from processors.enrich import Classifier
from processors.erasure import ErasureList
from processors.privacy import Pseudonymiser, pseudonymise_organisation
from processors.profile import Organisation
from schemas.models import CanonicalPost
from streams.profiles import LoadedProfile, load_profile_with_digest
from streams.settings import Settings
from streams.worker.ner import EntityMap, NerRunner, check_installed_model

if TYPE_CHECKING:  # the client library is imported only by workers that index
    from elasticsearch import AsyncElasticsearch

log = logging.getLogger("townsquare.worker")


class EntityExtractor(Protocol):
    """What the enrich agent needs from NER (the process pool, or a fake in tests)."""

    async def extract(self, records: Sequence[tuple[str, str]]) -> EntityMap: ...

    def close(self) -> None: ...


class Resources:
    """Lazily built, explicitly closed dependencies of the agents of one app."""

    def __init__(
        self,
        settings: Settings,
        *,
        profile: LoadedProfile | None = None,
        ner: EntityExtractor | None = None,
        es: AsyncElasticsearch | None = None,
        classifiers: Classifier | None = None,
        withhold: Callable[[CanonicalPost], str | None] | None = None,
    ) -> None:
        self.settings = settings
        self._profile = profile
        self._ner = ner
        self._es = es
        self._classifiers = classifiers
        self._org: Organisation | None = None
        self._pseudonymiser: Pseudonymiser | None = None
        self.withhold = withhold
        """The normalize stage's hook: a reason to drop a post (an erased author), or None."""
        self.erasures: ErasureList | None = None
        """The erasures in force (streams.worker.erasures keeps it current), for enrich."""

    @property
    def profile(self) -> LoadedProfile:
        """The organisation profile, loaded (and logged) the first time it is asked for."""
        if self._profile is None:
            self._profile = load_profile_with_digest(self.settings, worker=True)
            log.info(
                "organisation profile %s (%s, sha256 %s)",
                self._profile.org.name,
                self._profile.path,
                self._profile.sha256,
                extra={
                    "profile": self._profile.org.name,
                    "profile_path": str(self._profile.path),
                    "profile_sha256": self._profile.sha256,
                },
            )
        return self._profile

    @property
    def pseudonymiser(self) -> Pseudonymiser | None:
        """The keyed pseudonymiser when ``TOWNSQUARE_PSEUDONYMISE`` is on, else None."""
        if not self.settings.pseudonymise:
            return None
        if self._pseudonymiser is None:
            key = self.settings.pseudonym_key
            assert key is not None  # Settings refuses pseudonymise without a key
            self._pseudonymiser = Pseudonymiser(key.get_secret_value().encode())
        return self._pseudonymiser

    @property
    def org(self) -> Organisation:
        """The profile's organisation; pseudonymised (once) when the posts are."""
        if self._org is None:
            org = self.profile.org
            pseudonymiser = self.pseudonymiser
            self._org = (
                org if pseudonymiser is None else pseudonymise_organisation(org, pseudonymiser)
            )
        return self._org

    @property
    def ner(self) -> EntityExtractor:
        """The NER runner; its process pool itself starts with the first batch.

        The model's meta is checked here, so a wrong model stops the worker at
        start-up (warm-up) rather than in a pool process at the first batch.
        """
        if self._ner is None:
            if self.settings.spacy_model_check:
                check_installed_model(self.settings.spacy_model)
            self._ner = NerRunner(self.settings.spacy_model, self.org, self.settings.ner_processes)
        return self._ner

    @property
    def classifiers(self) -> Classifier:
        """The trained text classifiers, read once (a few MB; about 5,000 posts/s a core)."""
        if self._classifiers is None:
            from streams.classifiers import load_classifiers, models_dir

            self._classifiers = load_classifiers(self.settings)
            log.info("text classifiers from %s", models_dir(self.settings))
        return self._classifiers

    @property
    def es(self) -> AsyncElasticsearch:
        if self._es is None:
            from streams.es.client import async_client

            self._es = async_client(self.settings)
        return self._es

    def warm_up(self, roles: Sequence[str]) -> None:
        """Build at start-up what ``roles`` need, so configuration errors show before work."""
        if "enrich" in roles:
            _ = self.ner  # loads and logs the profile; the pool starts with the first batch
            _ = self.classifiers

    async def close(self) -> None:
        """Stop the NER pool and close the Elasticsearch client, if they were opened."""
        if self._ner is not None:
            self._ner.close()
            self._ner = None
        if self._es is not None:
            await self._es.close()
            self._es = None


class ResourcesService(mode.Service):
    """Warms up the resources of ``roles`` when the worker starts; closes them when it stops."""

    def __init__(self, resources: Resources, roles: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resources = resources
        self.roles = list(roles)

    async def on_start(self) -> None:
        settings = self.resources.settings
        log.info(
            "consumer group %s, static member %s",
            settings.app_id,
            settings.kafka_group_instance_id or "(none: dynamic membership)",
        )
        self.resources.warm_up(self.roles)

    async def on_stop(self) -> None:
        await self.resources.close()
