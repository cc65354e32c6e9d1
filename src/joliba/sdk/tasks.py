"""Tasks: calls recorded while the pipeline function runs, then run as a dependency graph.

Inside a run, calling a task returns a :class:`TaskHandle`; handles passed to other tasks
(directly or inside lists, tuples and dicts) become dependencies and are replaced by their
results. Once the pipeline function returns, :func:`run_graph` runs the tasks in a thread
pool, each as soon as its dependencies are done. Outside a run a task is a plain function.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from concurrent.futures import Future

    from joliba.sdk.context import RunContext

MAX_WORKERS = 8
DEFAULT_RETRY_DELAY = 5.0


class Task:
    """A function decorated with ``@task``."""

    def __init__(
        self, function: Callable[..., Any], *, retries: int, retry_delay: float, name: str | None
    ) -> None:
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError(f"task '{function.__name__}': retries must be an integer >= 0")
        if not isinstance(retry_delay, int | float) or isinstance(retry_delay, bool):
            raise ValueError(f"task '{function.__name__}': retry_delay must be a number")
        if retry_delay < 0:
            raise ValueError(f"task '{function.__name__}': retry_delay must be >= 0")
        self.function = function
        self.retries = retries
        self.retry_delay = float(retry_delay)
        self.name = name or function.__name__
        functools.update_wrapper(self, function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        graph = _recording
        if graph is None or graph.thread != threading.get_ident():
            return self.function(*args, **kwargs)
        return graph.add(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name}>"


@overload
def task(function: Callable[..., Any], /) -> Task: ...


@overload
def task(
    function: None = None,
    /,
    *,
    retries: int = 0,
    retry_delay: float = DEFAULT_RETRY_DELAY,
    name: str | None = None,
) -> Callable[[Callable[..., Any]], Task]: ...


def task(
    function: Callable[..., Any] | None = None,
    /,
    *,
    retries: int = 0,
    retry_delay: float = DEFAULT_RETRY_DELAY,
    name: str | None = None,
) -> Task | Callable[[Callable[..., Any]], Task]:
    """Declare a task: ``@task`` or ``@task(retries=2, retry_delay=0.5, name="fetch")``."""

    def decorate(fn: Callable[..., Any]) -> Task:
        return Task(fn, retries=retries, retry_delay=retry_delay, name=name)

    return decorate if function is None else decorate(function)


class TaskHandle:
    """The lazy result of a task call; pass it to other tasks to use the value."""

    __slots__ = ("args", "deps", "id", "kwargs", "task")

    def __init__(self, id: int, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.id = id
        self.task = task
        self.args = args
        self.kwargs = kwargs
        found: dict[int, TaskHandle] = {}
        _collect((args, kwargs), found)
        self.deps = list(found.values())

    def __bool__(self) -> bool:
        raise TypeError(
            f"the result of task '{self.task.name}' is not known while the pipeline function "
            "runs: pass it to another task to use its value"
        )

    def __repr__(self) -> str:
        return f"<TaskHandle {self.task.name} #{self.id}>"


class Graph:
    """The task calls recorded on one thread while the pipeline function runs."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.handles: list[TaskHandle] = []

    def add(self, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> TaskHandle:
        handle = TaskHandle(len(self.handles) + 1, task, args, kwargs)
        self.handles.append(handle)
        return handle


_recording: Graph | None = None


@contextmanager
def recording(graph: Graph) -> Iterator[Graph]:
    global _recording
    _recording = graph
    try:
        yield graph
    finally:
        _recording = None


def _collect(value: Any, found: dict[int, TaskHandle]) -> None:
    if isinstance(value, TaskHandle):
        found[value.id] = value
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)


def _resolve(value: Any, results: dict[int, Any]) -> Any:
    """``value`` with handles replaced by results; containers without handles are kept as is."""
    if isinstance(value, TaskHandle):
        return results[value.id]
    if isinstance(value, list | tuple):
        items = [_resolve(item, results) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if isinstance(value, list):
            return items
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        resolved = {k: _resolve(v, results) for k, v in value.items()}
        if all(resolved[k] is v for k, v in value.items()):
            return value
        return resolved
    return value


class TaskFailed(Exception):
    """A task failed after its retries; ``__cause__`` is its last exception."""

    def __init__(self, handle: TaskHandle, attempts: int) -> None:
        super().__init__(f"task '{handle.task.name}' failed after {attempts} attempt(s)")
        self.handle = handle
        self.attempts = attempts


def run_graph(graph: Graph, context: RunContext) -> None:
    """Run every recorded task, parallel where possible; raise :class:`TaskFailed` on failure.

    After a failure no new task starts; running ones are waited for.
    """
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from joliba.sdk.threads import leave_signals_to_main

    handles = graph.handles
    total = len(handles)
    waiting_on = {h.id: len(h.deps) for h in handles}
    dependents: dict[int, list[TaskHandle]] = {h.id: [] for h in handles}
    for h in handles:
        for dep in h.deps:
            dependents[dep.id].append(h)
    # Results are dropped once every dependent has received them.
    readers_left = {h.id: len(dependents[h.id]) for h in handles}
    results: dict[int, Any] = {}
    ready = deque(h for h in handles if not h.deps)
    stop = threading.Event()
    attempts: dict[int, int] = {}  # task id -> attempts made, for the failure message
    failure: TaskFailed | None = None
    finished = 0
    workers = min(MAX_WORKERS, total)
    with ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix="joliba-task", initializer=leave_signals_to_main
    ) as pool:
        running: dict[Future[Any], TaskHandle] = {}
        while True:
            while ready and len(running) < workers and not stop.is_set():
                handle = ready.popleft()
                args = _resolve(handle.args, results)
                kwargs = _resolve(handle.kwargs, results)
                for dep in handle.deps:
                    readers_left[dep.id] -= 1
                    if readers_left[dep.id] == 0:
                        del results[dep.id]
                future = pool.submit(_attempts, handle, args, kwargs, context, stop, attempts)
                running[future] = handle
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                handle = running.pop(future)
                error = future.exception()
                if error is not None:
                    if failure is None:
                        failure = TaskFailed(handle, attempts.get(handle.id, 1))
                        failure.__cause__ = error
                    stop.set()
                    continue
                finished += 1
                if readers_left[handle.id]:
                    results[handle.id] = future.result()
                message = f"{finished} of {total} tasks done"
                context.events.progress(finished * 100 // total, message)
                for dependent in dependents[handle.id]:
                    waiting_on[dependent.id] -= 1
                    if waiting_on[dependent.id] == 0:
                        ready.append(dependent)
    if failure is not None:
        raise failure


def _attempts(
    handle: TaskHandle,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    context: RunContext,
    stop: threading.Event,
    attempts: dict[int, int],
) -> Any:
    task = handle.task
    total = task.retries + 1
    for attempt in range(1, total + 1):
        attempts[handle.id] = attempt
        context.events.task(task.name, "running", attempt, handle.id)
        try:
            result = task.function(*args, **kwargs)
        except BaseException as exc:
            if isinstance(exc, Exception) and attempt < total and not stop.is_set():
                context.log(
                    "warning",
                    f"task '{task.name}' failed on attempt {attempt} of {total} "
                    f"({type(exc).__name__}: {exc}); retrying in {task.retry_delay:g} s",
                )
                context.events.task(task.name, "retrying", attempt, handle.id)
                if not stop.wait(task.retry_delay):  # another task failed: give up now
                    continue
            context.events.task(task.name, "failed", attempt, handle.id)
            raise
        context.events.task(task.name, "succeeded", attempt, handle.id)
        return result
    raise AssertionError("unreachable")
