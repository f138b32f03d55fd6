"""What the agents need beyond topics and tables: profile, NER pool, ES and HTTP clients.

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
from processors.rules_file import RulesFile
from schemas.models import CanonicalPost
from streams.profiles import LoadedProfile, load_profile_with_digest
from streams.settings import Settings
from streams.worker.ner import EntityMap, NerRunner, check_installed_model

if TYPE_CHECKING:  # the client libraries are imported only by workers that use them
    import httpx
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
        http: httpx.AsyncClient | None = None,
        rules: RulesFile | None = None,
    ) -> None:
        self.settings = settings
        self._profile = profile
        self._ner = ner
        self._es = es
        self._http = http
        self._classifiers = classifiers
        self._rules = rules
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
    def rules(self) -> RulesFile:
        """The alert rules (``TOWNSQUARE_RULES_PATH``, else the shipped defaults), read once.

        Outputs a rule names are delivered by the notify role, which may run
        with webhooks this worker does not have, so an output missing from this
        worker's ``TOWNSQUARE_ALERT_WEBHOOKS`` is logged (when it configures
        any), never fatal.
        """
        if self._rules is None:
            from processors.rules import load_rules, unknown_outputs

            path = self.settings.rules_path
            self._rules = load_rules(path)
            log.info(
                "alert rules from %s: %s",
                path or "the shipped defaults",
                ", ".join(r.name for r in self._rules.rules) or "none",
                extra={"rules_path": str(path) if path else None},
            )
            configured = set(self.settings.alert_webhooks)
            for who, name in unknown_outputs(self._rules, configured) if configured else []:
                log.warning(
                    "%s names output %r, which TOWNSQUARE_ALERT_WEBHOOKS does not configure",
                    who,
                    name,
                )
        return self._rules

    @property
    def es(self) -> AsyncElasticsearch:
        if self._es is None:
            from streams.es.client import async_client

            self._es = async_client(self.settings)
        return self._es

    @property
    def http(self) -> httpx.AsyncClient:
        """One HTTP client per worker (the notifier's webhooks), so connections are reused.

        Redirects are not followed: a webhook that moved must be reconfigured,
        not chased (a redirect could lead a signed alert anywhere).
        """
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
        return self._http

    def warm_up(self, roles: Sequence[str]) -> None:
        """Build at start-up what ``roles`` need, so configuration errors show before work."""
        if "enrich" in roles:
            _ = self.ner  # loads and logs the profile; the pool starts with the first batch
            _ = self.classifiers
            from processors.reading import prepare

            log.info(
                "lexicon prefilter: %s",
                "hyperscan" if prepare() else "none (hyperscan not installed; same results)",
            )
        if "alert" in roles:
            _ = self.rules  # a bad rules file stops the worker here, with every problem listed

    async def close(self) -> None:
        """Stop the NER pool and close the Elasticsearch and HTTP clients, if they were opened."""
        if self._ner is not None:
            self._ner.close()
            self._ner = None
        if self._es is not None:
            await self._es.close()
            self._es = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None


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
