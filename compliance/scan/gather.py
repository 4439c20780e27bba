"""Host facts gathered in parallel: a thread per host (up to ``workers``), each bounded by its timeout."""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from xzgov.core.errors import Terminated
from xzgov.core.text import visible_text
from xzgov.facts.contract import utc_now
from xzgov.facts.host import HostGathering, HostTarget, Transport, gather_host_facts
from xzgov.facts.host_transport import allow_sessions, session_time, stop_sessions

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
    results: dict[int, HostGathering] = {}  # by position: two targets may share a name (the API's callers)
    workers = sessions_that_fit(max(1, workers))
    allow_sessions()
    pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xzgov-scan")
    pending: dict[futures.Future[HostGathering], int] = {}
    try:
        pending = {pool.submit(_gather_one, target, transport_for, timeout, thresholds): position
                   for position, target in enumerate(targets)}
        # Every host is bounded by its transport (the ssh session is killed past its time: connecting, the
        # run, a few seconds to report), so workers free up; this deadline is the net under a transport
        # that does not bound itself: as many rounds as the pool needs, each a host's whole time and a
        # second for starting and ending its session.
        rounds = -(-len(targets) // workers)
        deadline = time.monotonic() + (session_time(timeout) + 1.0) * rounds + min(30.0, timeout)
        for future in futures.as_completed(pending, timeout=max(1.0, deadline - time.monotonic())):
            target = targets[pending[future]]
            results[pending[future]] = _outcome(future, target)
            if progress is not None:
                progress(len(results), len(targets), target.name)
    except (KeyboardInterrupt, SystemExit, Terminated):
        # the queued hosts first, then the sessions (and any a freed worker starts now): the sessions run
        # apart from the terminal, so Ctrl-C or SIGTERM reaches only this process
        pool.shutdown(wait=False, cancel_futures=True)
        stop_sessions()
        raise
    except futures.TimeoutError:
        pool.shutdown(wait=False, cancel_futures=True)
        stop_sessions()  # the net: whatever still runs ends now, not when the process exits
        for future, position in pending.items():
            target = targets[position]
            if position in results:
                continue
            if future.done() and not future.cancelled():  # finished after the last batch was collected
                results[position] = _outcome(future, target)
            elif future.cancelled():
                results[position] = HostGathering(
                    target, None, {}, "not attempted: the scan's time ran out before this host's turn", utc_now())
            else:
                results[position] = HostGathering(
                    target, None, {}, f"no answer within {session_time(timeout):.0f}s", utc_now())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [results[position] for position in range(len(targets))]


def _gather_one(target: HostTarget, transport_for: Callable[[HostTarget], Transport], timeout: float,
                thresholds: Mapping[str, Any] | None) -> HostGathering:
    """One host: its transport is built in the worker, so a host whose connection settings cannot be used is that
    host's error (:func:`_outcome`), not the fleet's."""
    return gather_host_facts(target, transport_for(target), timeout=timeout, thresholds=thresholds)


def _outcome(future: futures.Future[HostGathering], target: HostTarget) -> HostGathering:
    """The gathering a finished ``future`` holds; a defect while gathering is an error result, not a crash."""
    try:
        return future.result()
    except Exception as problem:
        return HostGathering(target, None, {}, f"a defect in xzgov while reading its answer (please report it): "
                             f"{type(problem).__name__}: {visible_text(str(problem))[:300]}", utc_now())


#: Descriptors one host's session holds here (its three pipes, the selector, the thread's share), and what the
#: rest of the scan keeps open.
_FILES_PER_SESSION = 8
_FILES_BESIDE = 64


def sessions_that_fit(workers: int) -> int:
    """``workers``, or as many sessions as the open-files limit allows once its soft value is raised toward the
    hard one: past it, hosts failed with "cannot run ssh: Too many open files" (400 workers, a soft limit of
    1,024), an error of the scanner reported as the host's."""
    wanted = _FILES_BESIDE + _FILES_PER_SESSION * workers
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return workers
    raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = raised
    return max(1, min(workers, (soft - _FILES_BESIDE) // _FILES_PER_SESSION))
