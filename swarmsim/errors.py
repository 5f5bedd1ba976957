"""The family of errors a user can cause: bad scene files, arguments, data, actions.

Every one derives from `SwarmsimError` (and from `ValueError`, as before), so a caller (the
command line, an environment wrapper, a sweep) catches one class; each carries the offending
key where there is one.
"""

from __future__ import annotations

__all__ = ["SwarmsimError"]


class SwarmsimError(ValueError):
    """An input swarmsim cannot use; the message says what is wrong and what was expected.

    Attributes:
        key: Dotted scene key, argument or field at fault (None when there is none).
    """

    key: str | None = None
