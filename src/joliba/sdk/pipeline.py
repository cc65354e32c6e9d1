"""``@pipeline``: the object the platform inspects and runs, and local mode's entry point."""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, overload

from joliba.domain.parameters import ParameterSpec, check_references
from joliba.sdk.context import RunContext, activate, on_platform
from joliba.sdk.parameters import ATTRIBUTE
from joliba.sdk.tasks import Graph, TaskFailed, recording, run_graph

_SDK_FOLDER = os.path.dirname(os.path.abspath(__file__)) + os.sep
_FUTURES = f"concurrent{os.sep}futures{os.sep}"


class Pipeline:
    """A pipeline function with its parameters and run settings."""

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None,
        timeout: int | None,
        retries: int,
        retry_delay: float,
    ) -> None:
        label = f"pipeline '{getattr(function, '__name__', function)}'"
        if not callable(function):
            raise TypeError(f"{label}: @pipeline decorates a function")
        if name is not None and (not isinstance(name, str) or not 0 < len(name.strip()) <= 200):
            raise ValueError(f"{label}: name must be 1 to 200 characters")
        if timeout is not None and (not _is_int(timeout) or timeout <= 0):
            raise ValueError(f"{label}: timeout must be a positive number of seconds")
        if not _is_int(retries) or retries < 0:
            raise ValueError(f"{label}: retries must be an integer >= 0")
        if not isinstance(retry_delay, int | float) or isinstance(retry_delay, bool):
            raise ValueError(f"{label}: retry_delay must be a number of seconds")
        if retry_delay < 0:
            raise ValueError(f"{label}: retry_delay must be >= 0")
        self.function = function
        self.name = (name or function.__name__).strip()
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = float(retry_delay)
        self._arguments = _arguments(function, label)
        self.parameters: list[ParameterSpec] = []
        for spec in reversed(getattr(function, ATTRIBUTE, [])):
            self.add_parameter(spec)

    def add_parameter(self, spec: ParameterSpec) -> None:
        """Put ``spec`` first: decorators apply bottom-up, the spec reads top-down."""
        if any(s.code == spec.code for s in self.parameters):
            raise ValueError(f"parameter '{spec.code}': declared twice")
        if spec.code not in self._arguments:
            raise TypeError(
                f"parameter '{spec.code}': the function {self.function.__name__}() has no "
                f"argument '{spec.code}' (arguments: {', '.join(self._arguments) or 'none'})"
            )
        self.parameters.insert(0, spec)

    def check(self) -> None:
        """Every function argument has a parameter (a ``TypeError`` otherwise), and every
        picker names a DHIS2Connection parameter (an ``Invalid`` naming it otherwise).

        Done here rather than in ``@pipeline`` because ``@parameter`` may also sit above it.
        """
        codes = {s.code for s in self.parameters}
        missing = [a for a in self._arguments if a not in codes]
        if missing:
            raise TypeError(
                f"pipeline '{self.name}': the arguments of {self.function.__name__}() must match "
                f"its parameters; no @parameter for: {', '.join(missing)}"
            )
        check_references(self.parameters)

    def spec(self) -> dict[str, Any]:
        """What the server stores at push time."""
        self.check()
        return {
            "name": self.name,
            "function": self.function.__name__,
            "timeout": self.timeout,
            "retries": self.retries,
            "retry_delay": self.retry_delay,
            "parameters": [s.to_json() for s in self.parameters],
        }

    def execute(self, context: RunContext, values: Mapping[str, Any]) -> bool:
        """Run with bound values (see ``bind_values``); log any failure and return success."""
        activate(context)
        context.parameters = dict(values)
        graph = Graph()
        try:
            with recording(graph):
                self.function(**values)
            if graph.handles:
                run_graph(graph, context)
        except TaskFailed as exc:
            error = exc.__cause__ or exc
            report_failure(context, f"{exc}; the pipeline stops", error)
            return False
        except Exception as exc:
            report_failure(context, f"pipeline '{self.name}' failed", exc)
            return False
        finally:
            context.events.flush()
        return True

    def __call__(self) -> NoReturn:
        """``python pipeline.py [-c JSON | -f FILE]``: run locally, then exit 0, 1 or 2."""
        from joliba.sdk.local import main

        if on_platform():  # a call at import time, outside `if __name__ == "__main__":`
            raise RuntimeError(
                f"pipeline '{self.name}' was called while pipeline.py was being imported on the "
                'platform: call it only under `if __name__ == "__main__":`'
            )
        sys.exit(main(self))

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r}>"


def report_failure(context: RunContext, headline: str, error: BaseException) -> None:
    """Log the traceback at error level; on the platform, also write it to stderr."""
    import traceback

    # Start at the user's code: the SDK's and the thread pool's frames only add noise.
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None and _internal(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(error), error, tb)).rstrip()
    context.log("error", f"{headline}:\n{text}")
    if not context.events.sink.terminal:
        try:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _internal(filename: str) -> bool:
    """Whether a traceback frame is the SDK's own or the thread pool's."""
    return filename.startswith(_SDK_FOLDER) or _FUTURES in filename


@overload
def pipeline(name: Callable[..., Any], /) -> Pipeline: ...


@overload
def pipeline(
    name: str | None = None,
    *,
    timeout: int | None = None,
    retries: int = 0,
    retry_delay: float = 60,
) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    name: str | Callable[..., Any] | None = None,
    *,
    timeout: int | None = None,
    retries: int = 0,
    retry_delay: float = 60,
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Declare the pipeline: ``@pipeline(name="…", timeout=3600, retries=1, retry_delay=30)``.

    ``timeout`` (seconds), ``retries`` and ``retry_delay`` (seconds between attempts) apply to
    whole runs on the platform. A bare ``@pipeline`` names it after the function.
    """
    if callable(name):
        return Pipeline(name, name=None, timeout=None, retries=0, retry_delay=60)
    title = name

    def decorate(function: Callable[..., Any]) -> Pipeline:
        return Pipeline(
            function, name=title, timeout=timeout, retries=retries, retry_delay=retry_delay
        )

    return decorate


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _arguments(function: Callable[..., Any], label: str) -> list[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        raise TypeError(f"{label}: @pipeline decorates a plain function") from None
    names = []
    for arg in signature.parameters.values():
        if arg.kind in (arg.VAR_POSITIONAL, arg.VAR_KEYWORD, arg.POSITIONAL_ONLY):
            raise TypeError(
                f"{label}: argument '{arg.name}' must be a plain named argument "
                "(no *args, **kwargs or positional-only arguments)"
            )
        names.append(arg.name)
    return names
