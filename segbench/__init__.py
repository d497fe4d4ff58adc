"""segbench: benchmark semantic-segmentation models on Android phones over ADB and on the host."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0+src"
