"""Import a folder's ``pipeline.py`` (as module ``pipeline``) and find its one pipeline."""

from __future__ import annotations

import importlib.util
import os
import sys

from joliba.domain.errors import Invalid
from joliba.sdk.pipeline import Pipeline

MODULE = "pipeline"
FILENAME = "pipeline.py"


class LoadError(Exception):
    """The folder has no usable pipeline; the message says why."""


def load_pipeline(folder: str | os.PathLike[str]) -> Pipeline:
    """Import ``folder/pipeline.py`` and return its only :class:`Pipeline`.

    The module is imported under the name ``pipeline`` so its ``if __name__ == "__main__"``
    block does not run; the folder goes first on ``sys.path`` so its helper modules import.
    Errors raised by the user's code propagate; a missing file or pipeline, or parameters that
    do not fit the function or each other, are a ``LoadError``.
    """
    folder_text = os.path.abspath(folder)  # os.path: the run's process needs no pathlib
    path = os.path.join(folder_text, FILENAME)
    if not os.path.isfile(path):
        raise LoadError(f"no {FILENAME} in {folder_text}")
    spec = importlib.util.spec_from_file_location(MODULE, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    if folder_text not in sys.path:
        sys.path.insert(0, folder_text)
    sys.modules[MODULE] = module
    spec.loader.exec_module(module)
    found: dict[int, tuple[str, Pipeline]] = {}
    for name, value in vars(module).items():
        if isinstance(value, Pipeline) and id(value) not in found:
            found[id(value)] = (name, value)
    if not found:
        raise LoadError(f"{path} defines no pipeline (decorate a function with @pipeline)")
    if len(found) > 1:
        names = ", ".join(name for name, _ in found.values())
        raise LoadError(f"{path} defines several pipelines ({names}); keep one per folder")
    pipeline = next(iter(found.values()))[1]
    try:
        pipeline.check()
    except (TypeError, Invalid) as exc:  # the parameters do not fit: the message says how
        raise LoadError(str(exc)) from None
    return pipeline
