"""Keeping the service's topics in place while it runs, and saying when the broker goes and comes back.

A broker that restarts without its data (Tansu's memory storage in development, a cluster rebuilt
from scratch in production) comes back without the topics postguard created at start. The
consumer rejoins its group by itself (aiokafka) and producers of posts may auto-create the input
topic, but nothing recreates the decision and dead-letter topics: every publish would wait for
them and the batch would be retried forever. :class:`TopicKeeper` lists the topics every
``interval_s`` seconds, recreates the missing ones (:func:`~service.kafka.clients.ensure_topics`)
and logs, once per outage, when the broker becomes unreachable and when it is reachable again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient

from service.background import BackgroundTask
from service.kafka.clients import CLIENT_ID, DEFAULT_PARTITIONS, client_security_kwargs, ensure_topics
from service.settings import KafkaSettings

logger = logging.getLogger(__name__)

#: How often the topics are listed: a lost topic is recreated within this time (plus a check).
TOPIC_CHECK_INTERVAL_S = 5.0
#: Longest one check may take before the broker counts as unreachable.
CHECK_TIMEOUT_S = 10.0


class TopicKeeper:
    """A background task that recreates missing topics and logs broker outages."""

    def __init__(
        self,
        settings: KafkaSettings,
        names: Sequence[str],
        *,
        interval_s: float = TOPIC_CHECK_INTERVAL_S,
        partitions: int = DEFAULT_PARTITIONS,
    ) -> None:
        self._settings = settings
        self._names = sorted(set(names))
        self._interval_s = interval_s
        self._partitions = partitions
        self._admin: AIOKafkaAdminClient | None = None
        self._loop = BackgroundTask("postguard-topic-keeper", self._run)
        self._unreachable_since: float | None = None

    def start(self) -> None:
        """Start checking in the running event loop."""
        if not self._loop.running:
            self._loop.start()

    async def stop(self) -> None:
        """Stop checking and close the admin client."""
        await self._loop.stop()
        await self._close_admin()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - a failed check must never stop the next one
                logger.exception(
                    "checking the Kafka topics failed; checking again in %.0f s", self._interval_s
                )

    async def check(self) -> list[str]:
        """One check: return the topics that were missing (and have been recreated)."""
        loop = asyncio.get_running_loop()
        bootstrap = self._settings.kafka_bootstrap
        try:
            existing = await asyncio.wait_for(self._list_topics(), CHECK_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure to list means "unreachable" here
            await self._close_admin()
            if self._unreachable_since is None:
                self._unreachable_since = loop.time()
                logger.warning(
                    "Kafka broker %s is unreachable (%s); consumer and producer keep reconnecting",
                    bootstrap,
                    _describe(exc),
                )
            return []
        if self._unreachable_since is not None:
            logger.warning(
                "Kafka broker %s is reachable again after %.0f s",
                bootstrap,
                loop.time() - self._unreachable_since,
            )
            self._unreachable_since = None
        missing = [name for name in self._names if name not in existing]
        if missing:
            logger.warning(
                "topics %s are missing on the Kafka broker (it restarted without its data, or they "
                "were deleted); recreating them",
                ", ".join(missing),
            )
            await ensure_topics(self._settings, missing, partitions=self._partitions)
        return missing

    async def _list_topics(self) -> set[str]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._settings.kafka_bootstrap,
                client_id=CLIENT_ID,
                request_timeout_ms=int(CHECK_TIMEOUT_S * 1000),
                **client_security_kwargs(self._settings),
            )
            try:
                await admin.start()
            except BaseException:
                await admin.close()
                raise
            self._admin = admin
        return set(await self._admin.list_topics())

    async def _close_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT_S:.0f} s"
    return f"{type(exc).__name__}: {str(exc)[:200]}"
