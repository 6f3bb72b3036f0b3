"""Events to open pages: in this process, or through Redis pub/sub between processes.

An event carries no data, only the name of what changed ("stacks", "stack-<id>"); the page
fetches the region as for a poll, with the same permission checks. Each open stream is an
asyncio queue on the server's event loop: no thread per connection. Publishing works from any
thread; with Redis, one subscriber thread per process delivers every process's events here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from dashboard.spacelift import process_state

logger = logging.getLogger(__name__)

CHANNEL = "spacelift-portal:events"
# Events a slow stream may hold; past that, older ones are dropped (they all mean "fetch").
QUEUE_SIZE = 16
# A Redis that went away is subscribed to again after this long.
RESUBSCRIBE_SECONDS = 2.0


@dataclass(frozen=True)
class Event:
    """What changed. `stack_id` stays on the server: it decides who is told (`may_see`)."""

    name: str
    stack_id: str | None = None


# The end of a stream: the process is shutting down (or a test closes everything).
CLOSE = Event("close")


@dataclass(eq=False)
class Subscription:
    user_id: Any
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event]

    def offer(self, event: Event) -> None:
        """On the subscription's loop: queue `event`, dropping the oldest when full."""
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(event)


class Broker:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._per_person: Counter[Any] = Counter()
        self._lock = threading.Lock()
        self._closed = False
        self._redis_thread: threading.Thread | None = None
        self._redis_stop = threading.Event()
        self.published = 0

    # Streams -------------------------------------------------------------------------------

    def subscribe(self, user_id: Any, cap: int) -> Subscription | None:
        """A new stream for `user_id` on the running loop; None past `cap` streams or closed."""
        with self._lock:
            if self._closed or self._per_person[user_id] >= cap:
                return None
            subscription = Subscription(
                user_id, asyncio.get_running_loop(), asyncio.Queue(QUEUE_SIZE)
            )
            self._subscriptions.add(subscription)
            self._per_person[user_id] += 1
        self._ensure_redis_listener()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.discard(subscription)
                self._per_person[subscription.user_id] -= 1
                if self._per_person[subscription.user_id] <= 0:
                    del self._per_person[subscription.user_id]

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    # Events --------------------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Tell every open page in every process (this one only, without Redis)."""
        self.published += 1
        url = _redis_url()
        if url:
            try:
                _redis_client(url).publish(CHANNEL, json.dumps([event.name, event.stack_id]))
                return
            except Exception as exc:  # Redis is a cache, never a dependency: this process only
                logger.warning("Events go to this process only: Redis refused them (%s)", exc)
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Hand `event` to this process's streams, each on its own loop."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            try:
                subscription.loop.call_soon_threadsafe(subscription.offer, event)
            except RuntimeError:  # its loop has closed: the stream is gone
                self.unsubscribe(subscription)

    def close(self) -> None:
        """End every open stream (a deploy or shutdown); new ones are refused until reset."""
        with self._lock:
            self._closed = True
        self.deliver(CLOSE)
        self._redis_stop.set()

    def reset(self) -> None:
        self.close()
        with self._lock:
            self._subscriptions.clear()
            self._per_person.clear()
            self._closed = False
        if self._redis_thread is not None:
            self._redis_thread.join(timeout=5)
            self._redis_thread = None
        self._redis_stop = threading.Event()
        self.published = 0

    # Redis ---------------------------------------------------------------------------------

    def _ensure_redis_listener(self) -> None:
        url = _redis_url()
        with self._lock:
            if not url or (self._redis_thread and self._redis_thread.is_alive()):
                return
            self._redis_thread = threading.Thread(
                target=self._listen, args=(url, self._redis_stop), name="events-redis", daemon=True
            )
            self._redis_thread.start()

    def _listen(self, url: str, stop: threading.Event) -> None:
        """Deliver every process's events here, resubscribing after Redis comes back."""
        while not stop.is_set():
            try:
                pubsub = _redis_client(url, listening=True).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                while not stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        name, stack_id = json.loads(message["data"])
                        self.deliver(Event(name, stack_id))
                pubsub.close()
            except Exception as exc:
                logger.warning("Listening for events on Redis failed (%s); retrying", exc)
                stop.wait(RESUBSCRIBE_SECONDS)


def _redis_url() -> str:
    cache = settings.CACHES["default"]
    if "redis" not in cache["BACKEND"].lower():
        return ""
    location = cache.get("LOCATION", "")
    return location[0] if isinstance(location, list | tuple) else location


_clients: dict[tuple[str, bool], Any] = {}


def _redis_client(url: str, listening: bool = False) -> Any:
    import redis

    key = (url, listening)
    if key not in _clients:
        # The listener blocks on reads (up to 1 s each); publishers give up quickly.
        timeout = None if listening else 1
        _clients[key] = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=timeout)
    return _clients[key]


broker = Broker()
publish = broker.publish


@process_state.forgets("live events")
def reset_process_state() -> None:
    broker.reset()
    _clients.clear()
