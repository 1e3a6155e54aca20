"""OpenMeter's worker log as the project reads it: records (:mod:`.records`) and where they come
from (:mod:`.source`).

A leaf: it imports nothing of the project but ``model.time``, ``limits``, ``errors`` and ``proc``,
so the offline OpenMeter can write a log that ``stack`` and ``scenario`` read the same way.
"""

from contract.worklog.records import LogRecord, parse_line, parse_lines, parse_text
from contract.worklog.source import LogMark, LogSource, LogSourceError

__all__ = ["LogMark", "LogRecord", "LogSource", "LogSourceError", "parse_line", "parse_lines", "parse_text"]
