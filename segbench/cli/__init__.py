"""The command line. The only layer that prints or exits.

Every module ``segbench/cli/cmd_*.py`` defines ``command`` (a click command); they are
found here, so adding a command is adding a file. Modules stay light to import: heavy
libraries are imported inside the command functions.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import click

from segbench.errors import EXIT_ERROR, EXIT_INTERRUPTED, SegbenchError


class _Commands(click.Group):
    """The commands of ``cmd_*.py``, each module imported when its command is named (``segbench report`` imports
    cmd_report alone, by the file-name convention cmd_<name with - as _>); listing them (``--help``) imports all."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name in _modules():
            self._load(name)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            guess = "cmd_" + cmd_name.replace("-", "_")
            if guess.isidentifier():  # imported straight away, without listing the package (pkgutil, a scan)
                self._load(guess, missing_ok=True)
            if cmd_name not in self.commands:  # a command named otherwise than its file: look at them all
                self.list_commands(ctx)
        return super().get_command(ctx, cmd_name)

    def _load(self, module_name: str, missing_ok: bool = False) -> None:
        if module_name not in _LOADED:
            _LOADED.add(module_name)
            name = f"{__name__}.{module_name}"
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                # No such file: no such command (a module that the command's file imports being missing stays an error).
                if missing_ok and exc.name == name:
                    return
                raise
            self.add_command(module.command)


_LOADED: set[str] = set()


def _modules() -> list[str]:
    import pkgutil  # listing the commands (--help, a misspelt name) is the only use

    return [info.name for info in pkgutil.iter_modules(__path__) if info.name.startswith("cmd_")]


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=lambda ctx, _p, value:
              _show_version(ctx) if value else None, help="Show the version and exit.")
def cli() -> None:
    """Benchmark semantic-segmentation models on Android phones (over ADB) and on this machine.

    Exit codes: 0 ok, 1 error, 2 usage, 3 some cases failed, 4 regression, 130 interrupted.
    """


class InputPath(click.Path):
    """click.Path for a file or folder segbench reads: one that exists but may not be read is an error (exit 1, "missing
    or unreadable file" in README's Exit codes), not the usage error (2) of click's own ``readable`` check."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(readable=False, **kwargs)  # type: ignore[arg-type]

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        converted = super().convert(value, param, ctx)
        path = os.fsdecode(converted)  # type: ignore[arg-type]
        if path != "-" and os.path.exists(path) and not os.access(path, os.R_OK):
            raise click.FileError(path, hint="permission denied")
        return converted


def _show_version(ctx: click.Context) -> None:
    # click.version_option takes the version when the module is imported; this reads it only when asked.
    from segbench import __version__

    click.echo(f"segbench, version {__version__}")
    ctx.exit()


def _raise_interrupt(signum: int, frame: object) -> None:
    # SIGTERM (CI cancelling a job, a device farm timing out) is handled like Ctrl-C so
    # that finished results are saved the same way.
    raise KeyboardInterrupt


def fail(message: str, code: int = EXIT_ERROR) -> None:
    """Print one error line on stderr and exit with ``code``."""
    click.echo(f"segbench: error: {message}", err=True)
    sys.exit(code)


def _click_error(exc: click.ClickException) -> str:
    """click's error as one line: its message, and for a usage error where the command's help is."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message += f" (see `{ctx.command_path} --help`)"
    return message


# Set to show the traceback of an error segbench did not foresee (a bug) instead of its one line.
TRACEBACK_ENV = "SEGBENCH_TRACEBACK"


def _printable_streams() -> None:
    """Text that came from file names (bytes that are not UTF-8, held as surrogates) never stops a print: a
    strict stdout writes it with backslash escapes, as stderr already does."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> None:
    _printable_streams()
    # Ctrl-C is KeyboardInterrupt even when the parent started us with SIGINT ignored (a shell's background job,
    # `nohup`, some CI runners): an ignored SIGINT is inherited, and a run could then not be stopped by it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        # Commands return their exit code (or raise SegbenchError); click returns it here.
        code = cli.main(args=argv, prog_name="segbench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("segbench: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.NoArgsIsHelpError as exc:  # `segbench` or `segbench zoo` alone: the help, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # a bad option or argument (2), an unreadable click.File (1)
        fail(_click_error(exc), exc.exit_code)
    except SegbenchError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        click.echo("segbench: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # `segbench report | head`: the reader went away; nothing to report.
        sys.stderr.close()
        sys.exit(EXIT_ERROR)
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except Exception as exc:  # noqa: BLE001 - the last boundary: a bug is one line too (the case boundary is execute's)
        if os.environ.get(TRACEBACK_ENV):
            raise
        what = " ".join(str(exc).split())  # one line, however the exception's text runs
        fail(f"unexpected {type(exc).__name__}{': ' + what[:300] if what else ''} (a bug in segbench: run again with {TRACEBACK_ENV}=1 "
             "for the traceback, and report it)")
    sys.exit(code if isinstance(code, int) else 0)
