"""Inspection results kept by model sha256, so reports get params without re-reading models.

``<reports>/inspect/<sha256>.json`` holds one ModelInfo. A report looks a measurement's model up
by the sha256 recorded with the measurement; on a miss it inspects the file at the recorded
path, but only if that file still has the same sha256 (a model re-exported under the same name
is a different model), and stores the result. Nothing is found for a model that is gone or
changed: its params cell stays empty rather than showing another model's count.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from segbench.errors import SegbenchError
from segbench.model import ModelInfo, ModelRef


class InspectCache:
    def __init__(self, reports_root: str | os.PathLike[str]) -> None:
        self.dir = Path(reports_root) / "inspect"

    def _path(self, sha256: str) -> Path:
        return self.dir / f"{sha256}.json"

    def get(self, sha256: str) -> ModelInfo | None:
        """The cached inspection, unless absent, damaged or made under other counting rules."""
        from segbench.modelinfo.count import CONVENTIONS

        try:
            data = json.loads(self._path(sha256).read_text(encoding="utf-8"))
            return ModelInfo.from_dict(data) if data.get("conventions") == CONVENTIONS else None
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def put(self, info: ModelInfo) -> None:
        """Write atomically; a read-only reports directory only costs the speed-up."""
        from segbench.modelinfo.count import CONVENTIONS
        from segbench.store import write_atomic

        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            write_atomic(self._path(info.sha256), json.dumps({**info.to_dict(), "conventions": CONVENTIONS}, indent=1))
        except OSError:
            pass

    def lookup(self, ref: ModelRef) -> ModelInfo | None:
        """The inspection of this exact model (by sha256), from the cache or from its file."""
        from segbench.modelinfo import inspect_model
        from segbench.models import sha256_file

        if not ref.sha256:
            return None
        cached = self.get(ref.sha256)
        if cached is not None:
            return cached
        path = Path(ref.path)
        try:
            if not path.is_file() or sha256_file(path) != ref.sha256:
                return None
            info = inspect_model(path)
        except (OSError, SegbenchError):
            return None
        self.put(info)
        return info

    def infos(self, refs: Iterable[ModelRef]) -> dict[str, ModelInfo]:
        """sha256 -> inspection for every model that can be inspected."""
        out: dict[str, ModelInfo] = {}
        tried: set[str] = set()  # one attempt per model, however many measurements it has
        # A farm's history holds tens of thousands of model files (each night's export), most of them gone: the
        # cache directory is listed once and each path looked at once, instead of two failed opens per model.
        try:
            cached = set(os.listdir(self.dir))
        except OSError:
            cached = set()
        exists: dict[str, bool] = {}
        for ref in refs:
            if not ref.sha256 or ref.sha256 in tried:
                continue
            tried.add(ref.sha256)
            if f"{ref.sha256}.json" not in cached:
                if ref.path not in exists:
                    exists[ref.path] = Path(ref.path).is_file()
                if not exists[ref.path]:
                    continue  # neither cached nor inspectable: lookup would find nothing
            if (info := self.lookup(ref)) is not None:
                out[ref.sha256] = info
        return out
