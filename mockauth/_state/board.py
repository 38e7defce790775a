"""The board of armed modes: arming, disarming, and choosing the modes of a request."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from .._errors import ModeError
from .._modes import (
    NOTHING,
    Applied,
    Arming,
    Selection,
    arming_from_spec,
    counted_when_applied,
    lookup,
    new_arming,
)
from .stores import ModeStore

# Armed at once: far more than any test arms, and a bound on the board every request
# looks through (and on what a client of the control API can make the mock hold).
MAX_ARMED = 1000


class ModeBoard:
    """The armed modes, and the choice of which apply to a request.

    Precedence, when several match: a mode named in the request's ``X-Mockauth-Mode``
    header first, then modes armed for the user and operation, for the user, for the
    operation, and last for everywhere; among equals the most recently armed. A request
    gets at most one failing mode plus, independently, one ``slow`` delay. A mode with
    ``times`` only counts down when it is the one applied.

    The armings live in a store (see ``_store``), so that every process sharing it
    counts ``times`` down together and draws the same seeded sequence.
    """

    def __init__(self, store: ModeStore) -> None:
        self._store = store

    def arm(self, name: str, **scope_and_options: Any) -> Arming:
        """Arm mode `name` with a scope (operation, user, times, probability, seed, source)
        and options; ModeError names what is wrong."""
        return self.add(new_arming(name, **scope_and_options))

    def arm_spec(self, text: str, *, source: str = "api", **scope: Any) -> Arming:
        """Arm from ``NAME[:key=value...]``, where keys are scope keys or mode options."""
        return self.add(arming_from_spec(text, source=source, **scope))

    def add(self, arming: Arming) -> Arming:
        """Put a checked arming in force; ModeError past MAX_ARMED armings at once."""
        if len(self._store.armings()) >= MAX_ARMED:
            raise ModeError(
                f"mode {arming.mode.name!r}: {MAX_ARMED} modes are armed already; disarm some first"
            )
        return self._store.add_arming(arming)

    def disarm(self, arming_id: int | None = None, *, name: str | None = None) -> int:
        """Disarm one arming by id, every arming of a mode by name, or everything."""
        if arming_id is not None:
            if not self._store.remove_armings([arming_id]):
                raise ModeError(f"no armed mode with id {arming_id}")
            return 1
        if name is not None:
            lookup(name)
        return self._store.remove_armings(
            a.id for a in self._store.armings() if name is None or a.mode.name == name
        )

    def disarm_user_fixture(self, username: str) -> None:
        """Disarm the mode a user carries in its fixture entry."""
        self._store.remove_armings(
            a.id for a in self._store.armings() if a.source == "fixture" and a.user == username
        )

    def armed(self) -> list[Arming]:
        return self._store.armings()

    def select(
        self, operation: str, user: str | None, requested: Iterable[Applied] = ()
    ) -> Selection:
        """Choose the modes for one request and count down their ``times``."""
        failure: Applied | None = None
        delay: Applied | None = None
        for applied in requested:  # the request's own header outranks everything
            if operation not in applied.mode.operations:
                continue
            if applied.mode.effect == "delay":
                delay = delay or applied
            else:
                failure = failure or applied
        armed = self._store.armings()
        if not armed:
            return Selection(failure, delay) if failure or delay else NOTHING
        candidates = sorted(
            (
                a for a in armed
                if operation in a.mode.operations
                and (a.operation is None or a.operation == operation)
                and (a.user is None or a.user == user)
            ),
            key=lambda a: (a.rank, -a.id),
        )
        deferred: Arming | None = None
        for arming in candidates:
            is_delay = arming.mode.effect == "delay"
            if (delay if is_delay else failure) is not None:
                continue
            if arming.probability is not None and self._draw(arming) >= arming.probability:
                continue
            # Taken last, so that a count goes down only for the mode applied; the store
            # makes it exact across threads and processes.
            if arming.times is not None:
                if counted_when_applied(arming.mode, operation):
                    deferred = arming  # the handler takes it, if the mode takes effect
                elif not self._store.take(arming):
                    continue
            applied = Applied(arming.mode, arming.options)
            if is_delay:
                delay = applied
            else:
                failure = applied
            if failure and delay:
                break
        return Selection(failure, delay, deferred) if failure or delay else NOTHING

    def take(self, selection: Selection) -> bool:
        """Count one use of the selection's deferred arming, now that its mode takes
        effect: False when another request took its last one (then it does not apply)."""
        return selection.deferred is None or self._store.take(selection.deferred)

    def _draw(self, arming: Arming) -> float:
        """A number in [0, 1): seeded, the n-th draw of the arming is derived from the seed
        and n alone, so processes sharing a store draw one sequence between them."""
        if arming.seed is None:
            return random.random()
        return random.Random(f"{arming.seed}:{self._store.draw_index(arming)}").random()
