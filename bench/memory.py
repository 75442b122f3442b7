"""``python -m bench.memory N``: queue N deletion requests in SQLite, let a worker lease and
submit from that queue for a few seconds (against the in-process emulator), print peak RSS as JSON."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from bench.baseline import PASSCODE
from bench.scenarios import Limits, connect_bench, settings_for
from rightly import loop
from rightly.app.runtime import open_runtime
from rightly.connectors.clevertap.steps import Phase
from rightly.domain.enums import Priority
from rightly.emulator import EmulatorState, create_emulator_app
from rightly.engine.worker import WorkerOptions
from rightly.store.models import Connection, Request, Task


async def main(n: int) -> dict[str, float]:
    state = EmulatorState()
    state.add_account("MEM", PASSCODE, "us1", rate=1000, max_in_flight=10)
    transport = httpx.ASGITransport(app=create_emulator_app(state))
    with tempfile.TemporaryDirectory() as home:
        async with (
            httpx.AsyncClient(transport=transport) as http,
            open_runtime(settings_for(Path(home)), http=http) as rt,
        ):
            await connect_bench(rt, "MEM", "http://emulator", Limits(rate=1000, max_in_flight=10))
            now = time.time()
            async with rt.db.session() as s:
                conn_id = (await s.execute(select(Connection.id))).scalar_one()
                for start in range(0, n, 10_000):
                    ids = [f"req_mem{i}" for i in range(start, min(n, start + 10_000))]
                    await s.execute(
                        insert(Request),
                        [
                            {
                                "id": r,
                                "type": "deletion",
                                "status": "received",
                                "user_id": f"u{r}",
                                "created_at": now,
                                "updated_at": now,
                                "due_at": now + 30 * 86400,
                            }
                            for r in ids
                        ],
                    )
                    await s.execute(
                        insert(Task),
                        [
                            {
                                "id": f"task_{r}",
                                "request_id": r,
                                "connection_id": conn_id,
                                "status": "not_started",
                                "phase": Phase.SUBMIT,
                                "priority": int(Priority.SUBMIT),
                                "next_run_at": now,
                                "state": {"identity": [f"u{r}"]},
                                "created_at": now,
                                "updated_at": now,
                            }
                            for r in ids
                        ],
                    )
                await s.commit()
            worker = rt.worker(WorkerOptions(concurrency=64, idle_poll=0.05))
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(5.0, stop.set)
            await worker.run(stop)
            worked = worker.stats.tasks
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"queued": n, "worked_in_5s": worked, "peak_rss_mb": peak_kb / 1024}


if __name__ == "__main__":
    print(json.dumps(loop.run(main(int(sys.argv[1])))))
