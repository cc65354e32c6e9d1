"""``python -m joliba.sdk.inspect [DIR]``: print the pipeline's spec as JSON.

The server runs this in a subprocess at push time so that it never executes user code
itself. Exit 0 with the spec on stdout, or 2 with one clear paragraph on stderr.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from joliba.sdk import limits
from joliba.sdk.loader import FILENAME, LoadError, load_pipeline

FAILED = 2
_TRACEBACK_LINES = 6


def main(argv: Sequence[str] | None = None) -> int:
    limits.apply_from_env()  # in the sandbox: before the user's module is imported
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        sys.stderr.write("usage: python -m joliba.sdk.inspect [DIR]\n")
        return FAILED
    folder = Path(args[0] if args else ".")
    try:
        # Whatever the user's module prints must not corrupt the JSON on stdout.
        with contextlib.redirect_stdout(sys.stderr):
            spec = load_pipeline(folder).spec()
    except LoadError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return FAILED
    except SyntaxError as exc:
        where = f"{Path(exc.filename or FILENAME).name}, line {exc.lineno}"
        code = f": {exc.text.strip()}" if exc.text and exc.text.strip() else ""
        sys.stderr.write(
            f"error: cannot import {FILENAME}: {type(exc).__name__}: {exc.msg} ({where}){code}\n"
        )
        return FAILED
    except Exception as exc:
        # Keep the user's frames: the last lines say where the import went wrong.
        lines = "".join(traceback.format_exception(exc)).rstrip().splitlines()
        tail = "\n".join(lines[-_TRACEBACK_LINES:])
        sys.stderr.write(
            f"error: cannot load the pipeline in {folder.resolve() / FILENAME}: "
            f"{type(exc).__name__}: {exc}\n{tail}\n"
        )
        return FAILED
    sys.stdout.write(json.dumps(spec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
