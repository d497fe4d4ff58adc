"""Names and limits the command line offers as choices, with no imports of their own.

Command modules build their click options from these when the CLI starts; keeping them here means
`segbench --help` imports neither the model layer nor numpy (segbench.accuracy.datasets). The modules that
own each name (model, models, sweep, accuracy.datasets) re-export it from here. The same holds for a file name a
reader looks for before it needs the module that reads the file (MANIFEST: `segbench report` imports
segbench.models only for a model that has a manifest beside it).
"""

RUNTIMES = ("onnxruntime", "tflite", "paddlelite")
# Warmup and timed runs per case: the vendor tools read them as 32-bit ints, and a million runs is days of work.
MAX_RUNS = 1_000_000
# Dataset layouts `segbench eval --format` reads (segbench.accuracy.datasets).
DATASET_FORMATS = ("ade20k", "ade20k32", "cityscapes", "voc")
# The manifest of a models directory (segbench.models reads it): its [[model]] entries and published figures.
MANIFEST = "manifest.toml"
