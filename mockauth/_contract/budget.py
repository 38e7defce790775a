"""How a run spends its time budget.

Our own checks run first and take what they take (a few dozen logins, a few seconds even
where a login costs ~100 ms of CPU). What is left goes to the schemathesis phases in
shares (``WEIGHTS``), each phase given its share of what is left when it starts, so time a
phase did not need passes to the phases after it. Within its share, schemathesis' own time
limit splits a phase evenly among the operations and ends each one's cases gracefully, so
a slow login cannot starve the other operations. A fast target never meets the budget: it
runs schemathesis' own numbers of cases.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

# A phase's share of the time left when it starts, against the phases after it. Examples
# and coverage send a fixed set of cases and usually finish early; fuzzing and above all
# the stateful phase (every scenario starts with a login) can use any time they are given.
WEIGHTS = {"examples": 1, "coverage": 2, "fuzzing": 3, "stateful": 4}
# Kept back for what the shares do not see: requests in flight when a share runs out,
# schemathesis starting each phase, the report, the interpreter (a run against a login
# of ~100 ms CPU on a loaded 2-core machine overran a 2 s reserve by 0.4 s; bench/RESULTS.md).
RESERVE = 5.0


@dataclass(frozen=True)
class Budget:
    """The run's deadline, and each phase's share of it."""

    seconds: float
    started: float

    def left(self) -> float:
        return max(0.0, self.started + self.seconds - RESERVE - time.monotonic())

    def share(self, phase: str, phases: Sequence[str]) -> float:
        """Seconds for `phase` out of what is left, `phases` being it and those after it."""
        return self.left() * WEIGHTS[phase] / sum(WEIGHTS[p] for p in phases)
