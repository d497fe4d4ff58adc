"""Benchmark runners.

Vendor tools (one module each): pure ``build_command(...) -> argv`` and ``parse_log(text) -> records``.
In-process host runners (``host_*``): open a model with the runtime's Python API and time
only the inference call (segbench.runners.host).
"""
