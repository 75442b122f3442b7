"""The privacy center's background work, registered by the composition root (``register``):

- ``privacy.notify``: tells the person what happened, on these events: ``request.received`` (with
  its deadline), ``request.extended`` (the reason and the new deadline), ``request.completed``
  (access: a link to the results, valid 7 days; deletion: which systems, when),
  ``request.denied`` (the reason) and ``request.closed_unverified``. One message per request and
  kind, however often an event is delivered. A request without an email gets no message.
- ``mail.send``: delivers one message (``rightly.services.messages.deliver``), retried with backoff.
- ``privacy.sweep`` (recurring, every 5 minutes): verification reminders after 24 hours, closing
  requests unverified after 7 days, and ``request.overdue`` when a deadline passes.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from rightly.domain.enums import RequestType, TaskStatus
from rightly.engine.jobs import JobOutcome, JobSnapshot
from rightly.services import deadlines, links, messages, verification
from rightly.services.errors import NotFound
from rightly.services.runtime import Runtime

NOTIFY, SWEEP = "privacy.notify", "privacy.sweep"
SWEEP_EVERY = 300.0
TOLD = {
    "request.received": "received",
    "request.extended": "extended",
    "request.completed": "results",  # or "deleted", by the request's type
    "request.denied": "denied",
    "request.closed_unverified": "closed",
}


def register(rt: Runtime) -> None:
    async def notify(job: JobSnapshot) -> JobOutcome:
        await tell(rt, str(job.payload.get("event")), str(job.payload.get("request_id")))
        return JobOutcome.done()

    async def send(job: JobSnapshot) -> JobOutcome:
        return await messages.deliver(rt, job)

    async def sweep(_: JobSnapshot) -> JobOutcome:
        async with rt.db.session() as s:
            now = rt.clock.now()
            await verification.sweep(s, rt, now)
            await deadlines.flag_overdue(s, rt, now)
            await s.commit()
        rt.poke()
        return JobOutcome.again(rt.clock.now() + SWEEP_EVERY)

    rt.jobs.add(NOTIFY, notify, max_attempts=8, base_delay=10.0, max_delay=1800.0)
    rt.jobs.add(SEND, send, max_attempts=messages.MAX_ATTEMPTS, base_delay=30.0, max_delay=3600.0)
    rt.jobs.add(SWEEP, sweep)
    rt.recurring.append(SWEEP)
    for event in TOLD:
        rt.events.subscribe(event, NOTIFY)


SEND = messages.SEND


async def tell(rt: Runtime, event: str, request_id: str) -> None:
    """Queue the message an event calls for (at most one per request and kind)."""
    kind = TOLD.get(event)
    if kind is None:
        return
    now = rt.clock.now()
    async with rt.db.session() as s:
        try:
            req = await deadlines.load(s, request_id)
        except NotFound:
            return
        extra: dict[str, object] = {}
        if event == "request.completed":
            if req.type == RequestType.ACCESS:
                count = sum(len(t.records or []) for t in req.tasks)
                expires = now + links.LINK_SECONDS
                token = await links.issue(s, req.id, links.RESULTS, now, expires)
                extra = {
                    "link": links.results_url(rt.settings, token),
                    "link_expires": messages.moment(expires),
                    "records_words": "nothing was found about you"
                    if count == 0
                    else ("1 record was found" if count == 1 else f"{count} records were found"),
                }
            else:
                kind = "deleted"
                extra = {
                    "systems": [
                        {
                            "name": rt.registry.get(t.connection.vendor).label + f" ({t.connection.name})",
                            "when": messages.moment(t.completed_at),
                        }
                        for t in req.tasks
                        if t.status == TaskStatus.COMPLETE
                    ]
                }
        elif event == "request.extended":
            extra = {
                "reason": req.extension_reason or "",
                "extension": deadlines.rules(rt.settings).extension_words(req.regulation),
            }
        elif event == "request.denied":
            extra = {"reason": req.denial_reason or ""}
        try:
            await messages.queue(s, rt, req, kind, now, extra, key=f"{req.id}:{kind}")
            await s.commit()
        except IntegrityError:  # the same event delivered twice at once: the other one queued it
            await s.rollback()
    rt.poke()
