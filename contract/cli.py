"""``omcontract``: the command-line entry point.

Each area registers its commands from its own module under ``contract.commands``; this module
only assembles them and turns user errors into one line and an exit code
(0 agree, 1 disagree, 2 bad input, 3 no OpenMeter).
"""

from __future__ import annotations

import importlib
import sys

import click

from contract.errors import ContractUserError

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
    """Contract tests for OpenMeter's subscription sync."""


def _register() -> None:
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


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return (and, from the console script, exit with) its exit code."""
    try:
        result = cli.main(args=argv, prog_name="omcontract", standalone_mode=False)
    except ContractUserError as err:
        click.echo(f"omcontract: {err}", err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("omcontract: aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return 2
    code = result if isinstance(result, int) else 0
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
