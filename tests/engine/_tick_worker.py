"""A worker process for the fencing tests: runs ``tick`` jobs (no torch), so it starts in a second.

``python tests/engine/_tick_worker.py PROJECT HEARTBEAT_S STALE_AFTER_S``; each tick is a
``progress`` event carrying the worker's pid.
"""

import os
import sys
import time

from engine.jobs import Worker, register_job_kind
from engine.runs import EventWriter


def tick(job, project, run_dir, should_stop, device, progress):
    with EventWriter(run_dir / "events.jsonl") as ev:
        ev.emit("started", pid=os.getpid())
        for step in range(job.spec["steps"]):
            if should_stop():
                ev.emit("cancelled", pid=os.getpid(), step=step)
                return "cancelled"
            time.sleep(job.spec["sleep"])
            ev.emit("progress", pid=os.getpid(), step=step)
        ev.emit("finished", pid=os.getpid())
    return "finished"


register_job_kind("tick", tick)

if __name__ == "__main__":
    path, beat, stale = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    worker = Worker(path, heartbeat_s=beat, stale_after_s=stale, poll_s=0.1)
    worker.install_signal_handlers()
    sys.exit(0 if worker.run(exit_when_idle=True) >= 0 else 1)
