"""``omcontract``: the command-line entry point.

Each area registers its commands from its own module under ``contract.commands``; this module
only assembles them and turns every ending into one line and an exit code: 0 agree, 1 disagree,
2 bad input, 3 OpenMeter unreachable or failing, 4 internal error (a bug in this suite: please
report it; ``OMCONTRACT_TRACEBACK=1`` shows the traceback), 130 interrupted. Every line printed
here passes through the secret masking (API key, URL passwords).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import traceback

import click

from contract.errors import EXIT_INTERNAL, ContractUserError

# (module, attribute) of each command or command group, imported when the CLI starts.
_COMMANDS: tuple[tuple[str, str], ...] = (
    ("contract.commands.model", "model"),
    ("contract.commands.stack", "stack"),
    ("contract.commands.logs", "logs"),
    ("contract.commands.run", "run"),
    ("contract.commands.run", "explain"),
    ("contract.commands.run", "replay"),
    ("contract.commands.explore", "explore"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="openmeter-contract", prog_name="omcontract")
def cli() -> None:
    """Contract tests for OpenMeter's subscription sync.

    \b
    Exit codes: 0 every scenario agrees, 1 a disagreement, 2 bad input,
    3 OpenMeter unreachable or failing, 4 internal error (please report it;
    OMCONTRACT_TRACEBACK=1 shows the traceback), 130 interrupted, 141 output pipe closed.
    """


_registered = False
#: A group called without a command raises this (click >= 8.2): its help is shown as it is.
_HELP_ERRORS: tuple[type[click.ClickException], ...] = tuple(
    e for e in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if e is not None
)


def _register() -> None:
    """Import each command's module (in :func:`main`, so a Ctrl-C while importing is handled)."""
    global _registered
    if _registered:
        return
    _registered = True
    for module_name, attr in _COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:  # that area is not built yet
                continue
            raise
        command = getattr(module, attr, None)
        if isinstance(command, click.Command):
            cli.add_command(command)


def _say(text: str) -> None:
    """One line on standard error, secrets masked, whitespace (newlines) folded."""
    line = " ".join(text.split())
    try:
        from contract.client.masking import ApiKey, mask_secrets

        try:
            key = ApiKey.from_env()
        except ContractUserError:
            key = None
        line = str(mask_secrets(line, [key]))
    except Exception:  # masking must never hide the message itself
        pass
    with contextlib.suppress(OSError):
        click.echo(f"omcontract: {line}", err=True)


def _run(argv: list[str] | None) -> int:
    _register()
    try:
        result = cli.main(args=argv, prog_name="omcontract", standalone_mode=False)
    except ContractUserError as err:
        _say(str(err))
        return err.exit_code
    except click.exceptions.Abort:
        _say("aborted")
        return 130
    except _HELP_ERRORS as err:  # `omcontract logs`: the help is the answer
        err.show()
        return 2
    except click.ClickException as err:  # a usage error: one line too, with where to look
        ctx = getattr(err, "ctx", None)
        hint = f" (see {ctx.command_path} -h)" if ctx is not None else ""
        _say(err.format_message() + hint)
        return 2
    code = result if isinstance(result, int) else 0
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return (and, from the console script, exit with) its exit code.

    Nothing escapes as a traceback: an unexpected exception is a bug in this suite, reported in
    one line with exit code 4 (``OMCONTRACT_TRACEBACK=1`` prints the traceback as well).
    """
    try:
        return _run(argv)
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except BrokenPipeError:  # `omcontract … | head`: the reader has gone; say nothing more
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 141  # 128 + SIGPIPE, as a shell reports a pipe writer that was cut off
    except Exception as err:
        if os.environ.get("OMCONTRACT_TRACEBACK"):
            traceback.print_exc()
        detail = str(err) or "-"
        if len(detail) > 300:
            detail = detail[:300] + "…"
        _say(f"internal error, please report it: {type(err).__name__}: {detail} (exit {EXIT_INTERNAL})")
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
