"""Tell the user how long a clean instance shutdown may still take.

The node asks the guest to shut down (ACPI) and waits up to the shutdown
timeout (120 s by default) before it forces the instance off, all inside one
RPC call. A guest that ignores the request would leave ``gnt-instance
shutdown`` silent for that whole time; so, while the call runs, the job log
gets a line every ``REPORT_INTERVAL`` seconds with the time left, and one when
the timeout has passed and the node forces the stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# seconds between two "still waiting" lines; the first comes after this long
REPORT_INTERVAL = 15.0


def _report(lu, name: str, timeout: float, started: float, done: threading.Event,
            interval: float) -> None:
    deadline = started + timeout
    next_report = started + interval
    while True:
        wake_up = min(next_report, deadline)
        if done.wait(max(0.0, wake_up - time.monotonic())):
            return
        if wake_up >= deadline:
            lu.log_warning("Instance %s did not shut down within %d seconds, forcing"
                           " it off", name, round(timeout))
            return
        lu.log_info("Instance %s is not down yet; waiting %d more seconds before"
                    " forcing it off", name, round(deadline - time.monotonic()))
        next_report += interval


def call_with_progress(lu, instance_name: str, timeout, call: Callable,
                       interval: float | None = None):
    """``call()`` (the node's clean-then-forced shutdown), reporting while it runs.

    ``lu`` gives ``log_info``/``log_warning`` (the job log); ``timeout`` is the
    clean-shutdown timeout the node was given. Returns what ``call`` returns.
    """
    interval = REPORT_INTERVAL if interval is None else interval
    try:
        timeout = float(timeout or 0)
    except (TypeError, ValueError):
        timeout = 0.0
    if timeout <= 0:
        # an immediate forced stop: nothing to wait for
        return call()
    done = threading.Event()
    reporter = threading.Thread(target=_report, name="shutdown-progress",
                                args=(lu, instance_name, timeout, time.monotonic(), done,
                                      interval), daemon=True)
    reporter.start()
    try:
        return call()
    finally:
        done.set()
        reporter.join()
