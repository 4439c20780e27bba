"""Host facts gathered in parallel: a thread per host (up to ``workers``), each bounded by its timeout."""

from __future__ import annotations

import concurrent.futures as futures
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from xzgov.core.errors import Terminated
from xzgov.core.text import visible_text
from xzgov.facts.contract import utc_now
from xzgov.facts.host import HostGathering, HostTarget, Transport, gather_host_facts
from xzgov.facts.host_transport import kill_sessions, session_time

#: Called after each host with (hosts done, hosts in all, host name).
Progress = Callable[[int, int, str], None]


#: The most hosts scanned at once: each is an ssh session (a process, its pipes) and a thread.
MAX_WORKERS = 512
#: The longest a host may take, in seconds (a day): a bound the session's clock can hold.
MAX_HOST_TIMEOUT = 86400.0


def gather_all(targets: Sequence[HostTarget], transport_for: Callable[[HostTarget], Transport], *,
               timeout: float, workers: int, thresholds: Mapping[str, Any] | None = None,
               progress: Progress | None = None) -> list[HostGathering]:
    """Gather facts from every host in parallel, in ``targets`` order. A host that raises or does not
    answer in time yields a :class:`HostGathering` with an error (never an exception, never a pass)."""
    results: dict[str, HostGathering] = {}
    workers = max(1, workers)
    pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xzgov-scan")
    try:
        pending = {pool.submit(gather_host_facts, target, transport_for(target), timeout=timeout,
                               thresholds=thresholds): target for target in targets}
        # Every host is bounded by its transport (the ssh session is killed past its time: connecting, the
        # run, a few seconds to report), so workers free up; this deadline is the net under a transport
        # that does not bound itself: as many rounds as the pool needs, each a host's whole time.
        rounds = -(-len(targets) // workers)
        deadline = time.monotonic() + session_time(timeout) * rounds + min(30.0, timeout)
        for future in futures.as_completed(pending, timeout=max(1.0, deadline - time.monotonic())):
            target = pending[future]
            try:
                results[target.name] = future.result()
            except Exception as problem:  # a defect while gathering: an error result, not a crash
                results[target.name] = HostGathering(
                    target, None, {}, f"a defect in xzgov while reading its answer (please report it): "
                    f"{type(problem).__name__}: {visible_text(str(problem))[:300]}", utc_now())
            if progress is not None:
                progress(len(results), len(targets), target.name)
    except (KeyboardInterrupt, SystemExit, Terminated):
        kill_sessions()  # the sessions run apart from the terminal: Ctrl-C or SIGTERM reaches only this process
        raise
    except futures.TimeoutError:
        for future, target in pending.items():
            if target.name not in results:
                why = ("not attempted: the scan's time ran out before this host's turn" if future.cancel()
                       else f"no answer within {timeout:.0f}s")
                results[target.name] = HostGathering(target, None, {}, why, utc_now())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [results[target.name] for target in targets]
