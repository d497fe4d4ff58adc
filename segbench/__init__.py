"""segbench: benchmark semantic-segmentation models on Android phones over ADB and on the host."""


def __getattr__(name: str) -> str:
    # The version is looked up on first use: importlib.metadata costs more than the rest of `segbench --help`.
    if name != "__version__":
        raise AttributeError(f"module 'segbench' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("segbench")
    except PackageNotFoundError:  # running from a source tree that is not installed
        value = "0.1.0+src"
    globals()["__version__"] = value
    return value
