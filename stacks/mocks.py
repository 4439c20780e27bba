"""Offline evaluation of the program under Pulumi's runtime mocks, recording every registration.

This is the documented unit-testing mechanism of Pulumi (``pulumi.runtime.set_mocks`` with a
``pulumi.runtime.Mocks`` subclass, ``@pulumi.runtime.test``); the monitor additionally records each
registration's parent URN, which ``MockResourceArgs`` does not carry. Each evaluation runs in a fresh
``contextvars`` context with its own event loop, so evaluations never share a root stack or settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
from pulumi.runtime.mocks import MockMonitor

T = TypeVar("T")
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Registration:
    """One registered resource as the engine saw it: the inputs are what the provider would receive."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    #: URNs this resource was declared to depend on (``depends_on``)
    dependencies: tuple[str, ...] = ()
    #: resource options as the engine received them
    protect: bool = False
    retain_on_delete: bool = False
    aliases: int = 0


#: the ``kube-system`` namespace UID the mocks' cluster reports to a read (the cluster-identity check)
MOCK_CLUSTER_UID = "00000000-0000-4000-8000-000000000000"


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that create nothing: each resource's state is its inputs, its id ``<name>-id``; a read of
    the ``kube-system`` namespace returns ``cluster_uid`` as its UID."""

    def __init__(self, cluster_uid: str = MOCK_CLUSTER_UID) -> None:
        self.cluster_uid = cluster_uid

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.resource_id == "kube-system" and args.typ == "kubernetes:core/v1:Namespace":
            return args.resource_id, {"metadata": {"name": "kube-system", "uid": self.cluster_uid}}
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(MockMonitor):
    """The mock monitor, also recording type, name, URN, parent URN and inputs of every registration."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        state = self.resources[response.urn].state if response.urn in self.resources else {}
        with self._lock:
            self.registrations.append(Registration(request.type, request.name, response.urn, request.parent,
                                                   bool(request.custom), dict(state),
                                                   tuple(request.dependencies), bool(request.protect),
                                                   bool(request.retainOnDelete),
                                                   len(request.aliases) + len(request.aliasURNs)))
        return response


@dataclass
class Recording:
    """Everything one evaluation registered, in registration order, and the program's return value."""

    registrations: list[Registration] = field(default_factory=list)
    result: Any = None

    def custom(self) -> list[Registration]:
        return [r for r in self.registrations if r.custom]

    def components(self) -> list[Registration]:
        return [r for r in self.registrations if not r.custom and r.type != STACK_TYPE]


def evaluate(program: Callable[[], T], *, project: str = "xzgov-cloud", stack: str = "offline",
             mocks: pulumi.runtime.Mocks | None = None) -> Recording:
    """Run ``program`` under recording mocks in an isolated context and event loop."""
    return contextvars.Context().run(_evaluate, program, project, stack, mocks)


#: the signals the command line turns into an unwinding exception (xzgov.cli.main): deferred while Pulumi runs
_DEFERRED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _evaluate(program: Callable[[], Any], project: str, stack: str,
              mocks: pulumi.runtime.Mocks | None) -> Recording:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    recording = Recording()
    received: list[int] = []
    previous = _defer_signals(loop, received)
    try:
        monitor = RecordingMonitor(mocks or RecordingMocks())
        pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)

        @pulumi.runtime.test  # type: ignore[untyped-decorator,unused-ignore]
        def run() -> None:
            recording.result = program()

        try:
            run()
        except BaseException:
            if not received:
                raise  # the program's own failure; a signal's stop of the loop is re-raised below instead
        recording.registrations = list(monitor.registrations)
    finally:
        if received:  # stopped mid-run: its tasks end now, not as "destroyed but pending" tracebacks at exit
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(asyncio.wait(pending, timeout=5))
        loop.close()
        asyncio.set_event_loop(None)
        _restore_signals(previous, received)
    return recording


def _defer_signals(loop: asyncio.AbstractEventLoop, received: list[int]) -> dict[int, Any]:
    """While Pulumi's runtime runs, a signal only stops its event loop and is delivered once the loop is closed.
    Raised where it landed, the command line's exception was swallowed (Pulumi's ``except BaseException`` around
    a stack trace) or kept as an asyncio task's result while the loop waited for ever: Ctrl-C or a Job's SIGTERM
    during a plan finished the scan (exit 1) or hung it. Only the main thread may set handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}

    def stop(signum: int, frame: object) -> None:
        received.append(signum)
        loop.call_soon_threadsafe(loop.stop)

    for signum in _DEFERRED:
        handler = signal.getsignal(signum)
        if handler is signal.SIG_IGN or handler is None:
            continue  # ignored stays ignored; a handler not set from Python is left alone
        previous[signum] = signal.signal(signum, stop)
    return previous


def _restore_signals(previous: dict[int, Any], received: list[int]) -> None:
    """Put the handlers back, then deliver the first signal received meanwhile to its handler."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)
    if not received:
        return
    signum = received[0]
    handler = previous.get(signum)
    if callable(handler):
        handler(signum, None)  # the command line's: raises Terminated / HungUp / KeyboardInterrupt
    elif handler is signal.SIG_DFL:
        os.kill(os.getpid(), signum)
