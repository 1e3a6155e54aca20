"""contract.report: render a :class:`~contract.scenario.result.RunResult` for people and for CI.

- :func:`render_terminal` — one screen on a rich console;
- :func:`render_markdown` — a bug report to paste into a GitHub issue, with ``curl`` reproductions;
- :func:`render_junit` — JUnit XML for CI;
- :func:`write_reports` — the Markdown and JUnit files in one call.

Each takes ``mask`` (default :func:`identity`): every string of the run passes through it before
rendering, so API keys never reach a report.
"""

from contract.report.common import Mask, identity, mask_result
from contract.report.curl import curl_command, curl_script
from contract.report.junit import render_junit
from contract.report.markdown import render_markdown
from contract.report.terminal import render_terminal
from contract.report.write import write_reports

__all__ = [
    "Mask",
    "curl_command",
    "curl_script",
    "identity",
    "mask_result",
    "render_junit",
    "render_markdown",
    "render_terminal",
    "write_reports",
]
