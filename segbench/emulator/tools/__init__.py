"""Stand-ins for the vendor benchmark tools, run by the emulated phone's shell in a subprocess:
``python -m segbench.emulator.tools TOOL ARGS...``. Each parses the real tool's flags, runs the
model with the host runtime and prints the real tool's log format and exit codes."""
