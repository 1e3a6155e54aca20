"""contract.scenario.environment: what a runner is given."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

from contract.client import OpenMeterClient
from contract.clock import VirtualClock
from contract.scenario.environment import Environment, PollPolicy
from contract.scenario.result import Target, TargetKind


def _env() -> Environment:
    return Environment(
        client=OpenMeterClient("http://om.invalid"),
        clock=VirtualClock(datetime(2026, 3, 3, tzinfo=UTC)),
        target=Target(TargetKind.OFFLINE, "http://om.invalid"),
    )


def test_say_reaches_the_progress_display_when_there_is_one() -> None:
    env = _env()
    env.say("nobody listens")  # no display: nothing happens
    heard: list[str] = []
    env.progress = heard.append
    env.say("step 1/4 subscribe")
    assert heard == ["step 1/4 subscribe"]


def test_poll_intervals_grow_to_their_cap() -> None:
    policy = PollPolicy(first_interval_s=0.5, growth=2.0, max_interval_s=3.0)
    assert list(islice(policy.intervals(), 5)) == [0.5, 1.0, 2.0, 3.0, 3.0]
