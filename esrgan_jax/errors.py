"""User-facing errors and the wrapper that turns them into one line and an exit code in every CLI.

Library code raises `UserError` (or a subclass) for bad input: a missing or unreadable file, an unexpected
checkpoint key, a shape mismatch. The message must be one line naming the file/key and what was expected.
Entry points call `run_cli(main)`, which prints `error: <message>` to stderr and exits with the error's code,
without a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class UserError(ValueError):
    """Bad input; `exit_code` is what the CLI exits with (2 unless a subclass says otherwise)."""

    exit_code = 2


def run_cli(main: Callable[[], int | None]) -> None:
    """Runs `main()` and exits with its return code; a `UserError` becomes one stderr line and its exit code."""
    try:
        code = main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
