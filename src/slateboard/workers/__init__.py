"""Workers on many machines: a store's work queue (PostgreSQL), `enqueue` to submit boards, `Worker` to run them.

```python
from slateboard import Blackboard
from slateboard.workers import Worker, enqueue

with Blackboard.open("postgresql://app@db/slate") as bb:
    await enqueue(bb, "support-case", count=1000, prefix="case-")
    report = await Worker(bb, scenario="support-case", concurrency=8).run(until_idle=True)
```

The same from the command line: `slateboard enqueue` and `slateboard worker` (docs/SCALING.md).
"""

from slateboard.blackboard.stores.queue import WORK_STATES, Lease, WorkItem, WorkQueue, WorkState
from slateboard.workers.submit import Enqueued, board_names, enqueue, enqueue_sync
from slateboard.workers.worker import WAITING_STATUSES, BoardDone, Worker, WorkerReport, queue_of

__all__ = (
    "Worker",
    "WorkerReport",
    "BoardDone",
    "enqueue",
    "enqueue_sync",
    "Enqueued",
    "board_names",
    "queue_of",
    "WorkQueue",
    "WorkItem",
    "WorkState",
    "WORK_STATES",
    "Lease",
    "WAITING_STATUSES",
)
