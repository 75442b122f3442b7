"""The call budget shared through Redis, for many ``rightly worker`` processes on many machines.

Same contract as ``rightly.http.budget.LocalBudget`` (read ``rightly.http.permits`` first). Every
decision is one atomic Lua script, and every script reads the Redis server's clock (``TIME``): rate
spacing, permit expiry and waiter liveness are measured on that one clock, so the clocks of the
worker machines may disagree without letting a key exceed its rate. ``Permit.granted_at`` is
therefore server time. (Calling ``TIME`` before writing needs script effects replication: the
default since Redis 5, the only mode since 7.) The injected clock only measures the caller's
``max_wait`` and paces the sleep until a rate slot; keep the default ``SystemClock``, since a
``FakeClock`` cannot move the server's time.

Keys, for an account ``K`` under the prefix ``P`` (``{K}`` is a Redis Cluster hash tag, so one
account's keys share a slot and a script can touch them all):

``P{K}:inflight``  ZSET permit token -> expiry (server µs). A permit is a short lease (``lease``,
                   3 s) that its process renews (every ``lease``/3) while the task holding it runs;
                   a dead worker's permits drop out within ``lease`` seconds. Every attempt prunes
                   expired ones first.
``P{K}:last``      STRING time of the last grant (server µs). The next grant may follow it after
                   1/rate (at the rate in force then) plus a millisecond: GCRA with a burst of one.
                   (LocalBudget's bursts above 200 calls/s are not mirrored: its waiters poll.)
``P{K}:queue``     ZSET waiter token -> priority * 1e12 + arrival number: the head is served next,
                   which gives strict priority and FIFO within a priority across all processes.
``P{K}:seq``       STRING arrival counter for the queue.
``P{K}:alive``     ZSET waiter token -> heartbeat expiry (server µs). A waiter refreshes it at every
                   attempt; one that stops (its process died) is dropped from the queue after
                   ``WAITER_TTL`` seconds, so it holds lower priorities back for no longer.
``P{K}:slow``      HASH level, escalated_at; expires ``slow_down_seconds`` after the latest 429.

Held permits: the process renews, in one round trip per account every ``lease``/3 seconds, the
permits of tasks that are still running (its ``_held``); a task that ended without releasing its
permit (a bug, a crash inside the step) has it released at once; a permit held longer than
``max_hold`` (far beyond any call's timeout) is no longer renewed. So after a ``kill -9`` the next
worker waits seconds, not the minute a fixed TTL long enough for the slowest call would cost.

Waiting: the head waiting for the rate sleeps (on the injected clock) until its slot. A waiter that
is not at the head, or finds every permit taken, tries again as soon as something changes in its
own process (a release, a grant, a waiter leaving) and otherwise every ``POLL_INTERVAL`` of real
time, so a release in another process is noticed within one poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from rightly.domain.clock import Clock, SystemClock
from rightly.domain.enums import Priority
from rightly.http.permits import (
    ESCALATE_AFTER,
    MAX_SLOW_LEVEL,
    Limits,
    Permit,
    edge_margin,
    new_token,
)

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.02
LEASE = 3.0  # seconds a permit lives without renewal
MAX_HOLD = 300.0  # no call holds a permit this long: past it, a permit is no longer renewed
# The head never sleeps longer than this between attempts, so its heartbeat stays fresh.
MAX_SLEEP = 0.5
WAITER_TTL = 2.0

_QUEUED, _FULL, _RATE, _GRANTED = 0, 1, 2, 3

# KEYS: inflight, last, queue, alive, seq, slow
# ARGV: token, priority, max_in_flight, rate, lease_us, waiter_ttl_us, edge_us, max_level
# Returns {status, server_now_us, rate_wait_us}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Lua would print a 16-digit number with 14 significant digits; keep every microsecond.
local function num(x) return string.format('%.0f', x) end
local token = ARGV[1]
local max_in_flight = tonumber(ARGV[3])
local rate = tonumber(ARGV[4])
local permit_ttl = tonumber(ARGV[5])
local waiter_ttl = tonumber(ARGV[6])
local max_level = tonumber(ARGV[8])

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', num(now))
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', num(now))) do
  redis.call('ZREM', KEYS[3], gone)
  redis.call('ZREM', KEYS[4], gone)
end
if not redis.call('ZSCORE', KEYS[3], token) then
  local seq = redis.call('INCR', KEYS[5])
  redis.call('ZADD', KEYS[3], num(tonumber(ARGV[2]) * 1e12 + seq), token)
end
redis.call('ZADD', KEYS[4], num(now + waiter_ttl), token)
local keep = math.ceil(2 * waiter_ttl / 1000)
for i = 3, 5 do redis.call('PEXPIRE', KEYS[i], keep) end

if redis.call('ZRANGE', KEYS[3], 0, 0)[1] ~= token then return {0, now, 0} end
local level = tonumber(redis.call('HGET', KEYS[6], 'level') or '0')
if redis.call('ZCARD', KEYS[1]) >= math.max(1, max_in_flight - level) then return {1, now, 0} end
local spacing = 1000000 / (rate / 2 ^ level) + tonumber(ARGV[7])
local last = redis.call('GET', KEYS[2])
if last then
  local wait = tonumber(last) + spacing - now
  if wait > 0 then return {2, now, math.ceil(wait)} end
end

redis.call('ZREM', KEYS[3], token)
redis.call('ZREM', KEYS[4], token)
redis.call('ZADD', KEYS[1], num(now + permit_ttl), token)
redis.call('PEXPIRE', KEYS[1], math.ceil(permit_ttl / 1000) + 1000)
-- Outlive the longest spacing a deeper slow-down could ask for.
local longest = 1000000 / (rate / 2 ^ max_level) + tonumber(ARGV[7])
redis.call('SET', KEYS[2], num(now), 'PX', math.ceil(longest / 1000) + 1000)
return {3, now, 0}
"""

# KEYS: inflight.  ARGV: lease_us, token...  Extends the lease of each token still held (an expired
# one is not brought back: its slot may already be someone else's). Returns how many were renewed.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = string.format('%.0f', now + tonumber(ARGV[1]))
local renewed = 0
for i = 2, #ARGV do
  renewed = renewed + redis.call('ZADD', KEYS[1], 'XX', 'CH', until_, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
return renewed
"""

# KEYS: slow.  ARGV: duration_ms, max_level, escalate_after_us
_SLOW_DOWN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local level = tonumber(redis.call('HGET', KEYS[1], 'level') or '0')
local at = tonumber(redis.call('HGET', KEYS[1], 'escalated_at') or '0')
if level == 0 then
  level, at = 1, now
elseif level < tonumber(ARGV[2]) and now - at >= tonumber(ARGV[3]) then
  level, at = level + 1, now
end
redis.call('HSET', KEYS[1], 'level', level, 'escalated_at', string.format('%.0f', at))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return level
"""


@dataclass
class _Held:
    """A permit this process holds: its task (renewed while that runs) and when it was granted."""

    permit: Permit
    owner: asyncio.Task[object] | None
    since: float  # the event loop's time


def budget_keys(prefix: str, key: str) -> dict[str, str]:
    """The Redis keys holding one account's budget (see the module docstring)."""
    base = f"{prefix}{{{key}}}:"
    return {name: base + name for name in ("inflight", "last", "queue", "alive", "seq", "slow")}


class RedisBudget:
    """A ``Budget`` shared by every process that uses the same Redis and prefix."""

    def __init__(
        self,
        redis_url: str,
        clock: Clock | None = None,
        prefix: str = "rightly:budget:",
        lease: float = LEASE,
        slow_down_seconds: float = 30.0,
        max_hold: float = MAX_HOLD,
    ) -> None:
        if not 0 < lease <= 600 or not lease < max_hold:
            raise ValueError("a permit's lease must be positive, at most 10 minutes, and below max_hold")
        self.clock: Clock = clock or SystemClock()
        self.prefix = prefix
        self.lease = lease
        self.max_hold = max_hold
        self.slow_down_seconds = slow_down_seconds
        self._redis = Redis.from_url(redis_url)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)
        self._slow_down = self._redis.register_script(_SLOW_DOWN)
        self._events: dict[str, asyncio.Event] = {}
        self._held: dict[str, _Held] = {}  # token -> the permit this process holds
        self._renewer: asyncio.Task[None] | None = None
        self._orphans: set[asyncio.Task[None]] = set()

    async def acquire(
        self, key: str, limits: Limits, priority: Priority, *, max_wait: float
    ) -> Permit | None:
        keys = budget_keys(self.prefix, key)
        token = new_token()
        args: list[str | int] = [
            token,
            int(priority),
            limits.max_in_flight,
            repr(float(limits.rate)),
            _micros(self.lease),
            _micros(WAITER_TTL),
            _micros(edge_margin(limits.rate)),
            MAX_SLOW_LEVEL,
        ]
        deadline = self.clock.now() + max_wait
        granted = False
        try:
            while True:
                changed = self._changed(key)  # taken before the attempt, so no change slips past
                status, server_now, rate_wait = await self._acquire(keys=list(keys.values()), args=args)
                if status == _GRANTED:
                    granted = True
                    self._poke(key)  # the queue has a new head
                    permit = Permit(key=key, token=token, priority=priority, granted_at=server_now / 1e6)
                    self._hold(permit)
                    return permit
                remaining = deadline - self.clock.now()
                if remaining <= 0:
                    return None
                if status == _RATE:
                    wait = rate_wait / 1e6
                    if wait > remaining:
                        return None  # the slot lies beyond the deadline: no point waiting for it
                    await self.clock.sleep(min(wait, MAX_SLEEP))
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), timeout=min(remaining, POLL_INTERVAL))
        finally:
            if not granted:
                # Leave the queue so lower priorities need not wait for the heartbeat to lapse; the
                # ZREM from inflight covers a grant whose reply was lost to a cancellation or a
                # dropped connection. Best effort: if Redis is unreachable, the TTLs clean up.
                with contextlib.suppress(RedisError):
                    async with self._redis.pipeline(transaction=True) as pipe:
                        pipe.zrem(keys["queue"], token)
                        pipe.zrem(keys["alive"], token)
                        pipe.zrem(keys["inflight"], token)
                        await pipe.execute()
                self._poke(key)

    async def release(self, permit: Permit) -> None:
        self._held.pop(permit.token, None)
        await self._redis.zrem(budget_keys(self.prefix, permit.key)["inflight"], permit.token)
        self._poke(permit.key)

    def _hold(self, permit: Permit) -> None:
        """Keep ``permit`` alive while the task that acquired it runs (see the module docstring)."""
        owner = asyncio.current_task()
        self._held[permit.token] = _Held(permit, owner, asyncio.get_running_loop().time())
        if owner is not None:
            owner.add_done_callback(lambda _: self._orphaned(permit))
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_held(), name="rightly-budget-renewal")

    def _orphaned(self, permit: Permit) -> None:
        """The task holding ``permit`` ended; if it never released it, release it now."""
        if permit.token in self._held:
            log.warning("a task ended holding a call permit for %s; releasing it", permit.key)
            with contextlib.suppress(RuntimeError):  # the event loop is closing: the lease lapses
                job = asyncio.get_running_loop().create_task(self._release_orphan(permit))
                self._orphans.add(job)
                job.add_done_callback(self._orphans.discard)

    async def _release_orphan(self, permit: Permit) -> None:
        try:
            await self.release(permit)
        except RedisError as exc:  # unreachable: the lease lapses on its own
            log.warning(
                "could not release an orphaned call permit for %s: %s", permit.key, type(exc).__name__
            )

    async def _renew_held(self) -> None:
        """Every lease/3 seconds, extend the leases of the permits held here; stops when none is."""
        loop = asyncio.get_running_loop()
        while self._held:
            await asyncio.sleep(self.lease / 3)
            now = loop.time()
            by_key: dict[str, list[str]] = {}
            for token, held in list(self._held.items()):
                if now - held.since > self.max_hold:
                    log.warning(
                        "a call permit for %s was held over %.0f s; no longer renewed",
                        held.permit.key,
                        self.max_hold,
                    )
                    del self._held[token]
                    continue
                by_key.setdefault(held.permit.key, []).append(token)
            for key, tokens in by_key.items():
                try:
                    await self._renew(
                        keys=[budget_keys(self.prefix, key)["inflight"]], args=[_micros(self.lease), *tokens]
                    )
                except RedisError as exc:  # the next round tries again; past the lease they lapse
                    log.warning("could not renew call permits for %s: %s", key, type(exc).__name__)

    def _changed(self, key: str) -> asyncio.Event:
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = asyncio.Event()
        return event

    def _poke(self, key: str) -> None:
        """Wake this process's waiters on the key; each tries again at once."""
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    async def slow_down(self, key: str) -> None:
        await self._slow_down(
            keys=[budget_keys(self.prefix, key)["slow"]],
            args=[max(1, round(self.slow_down_seconds * 1000)), MAX_SLOW_LEVEL, _micros(ESCALATE_AFTER)],
        )

    async def aclose(self) -> None:
        self._held.clear()  # a task ending from now on has nothing left to release here
        if self._orphans:
            await asyncio.gather(*self._orphans, return_exceptions=True)
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        self._held.clear()
        await self._redis.aclose()


def _micros(seconds: float) -> int:
    return math.ceil(seconds * 1_000_000)
