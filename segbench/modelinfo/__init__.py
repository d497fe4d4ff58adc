"""Reading model files without running them: inputs/outputs now; params, MACs, ops (issue 5).

Dispatch is by file suffix (segbench.models.model_format).
"""

from segbench.modelinfo.io import read_io

__all__ = ["read_io"]
