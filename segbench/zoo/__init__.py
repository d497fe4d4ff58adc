"""Reference model definitions for PP-MobileSeg's comparison (the optional ``zoo`` extra).

``registry`` is plain data and imports nothing heavy; every other module here imports torch,
and only this package does. Use :func:`require_torch` before importing them.
"""

from __future__ import annotations

from segbench.errors import RuntimeUnavailable


def require_torch() -> None:
    """Raise a one-line error naming the extra when torch is not installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise RuntimeUnavailable(
            "the model zoo needs torch, which is not installed",
            hint="pip install -e '.[zoo]' (torch==2.13.0, CPU)",
        ) from None
