"""What differs between the Pythons segbench supports (3.10 and up): one place for it."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (the Paddle Lite extra): the same parser, as the tomli backport
    import tomli as tomllib

__all__ = ["tomllib"]
