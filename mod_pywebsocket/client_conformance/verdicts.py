"""The verdicts of one case run, from what was observed (the Autobahn TestSuite's rules).

Behaviour: the observations are compared with each expected list in turn (OK first,
then NON-STRICT); the first equal one is the verdict, none is FAILED, unless the case
gave its own verdict (``Session.behavior``). Close: in this order, FAILED if the
wrong side started the closing handshake, UNCLEAN if it had to complete and did not,
WRONG CODE if the client's close code is not one expected (no code is accepted),
else OK; FAILED when the opening handshake never completed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .case import FAILED, OK, UNCLEAN, WRONG_CODE, ExpectedClose, Observation


@dataclass
class Outcome:
    """Everything a verdict is made of, and the verdicts once judged."""

    received: list[Observation] = field(default_factory=list)
    expected: dict[str, list[Observation]] = field(default_factory=dict)
    expected_close: ExpectedClose | None = None
    opened: bool = True
    closed_by_me: bool = False  # the server (this suite) sent the first close frame
    was_clean: bool = False  # both close frames went by before TCP closed
    dropped_by_me: bool = False  # the server closed TCP
    remote_close_code: int | None = None
    remote_close_reason: str | None = None
    local_close_code: int | None = None
    behavior: str = FAILED
    behavior_close: str = FAILED
    result: str = "What the client did matches no expected outcome."
    result_close: str = "TCP closed with no closing handshake."
    own_behavior: str | None = None  # a verdict the case gave itself
    own_behavior_close: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def judge(outcome: Outcome) -> Outcome:
    """Fill in ``behavior``/``behavior_close`` and their sentences; returns ``outcome``."""
    if outcome.own_behavior is not None:
        outcome.behavior = outcome.own_behavior
    else:
        for verdict, observations in outcome.expected.items():
            if outcome.received == observations:
                outcome.behavior = verdict
                outcome.result = "What the client did matches an expected outcome."
                break
    expected = outcome.expected_close
    if not outcome.opened:
        outcome.behavior_close = FAILED
        outcome.result_close = "The opening handshake did not complete."
    elif expected is None:
        outcome.behavior_close = FAILED
        outcome.result_close = "The case set no expectation for the close."
    elif expected.closed_by_me != outcome.closed_by_me:
        outcome.behavior_close = FAILED
        outcome.result_close = (
            "The client started the closing handshake; the server should have."
            if outcome.closed_by_me is False
            else "The server had to close: the client should have failed the connection."
        )
    elif expected.require_clean and not outcome.was_clean:
        outcome.behavior_close = UNCLEAN
        outcome.result_close = "The closing handshake did not complete, and here it must."
    elif outcome.remote_close_code is not None and outcome.remote_close_code not in expected.codes:
        outcome.behavior_close = WRONG_CODE
        codes = " or ".join(map(str, expected.codes))
        outcome.result_close = f"The client's close code should have been {codes}, or none."
    else:
        outcome.behavior_close = OK
        outcome.result_close = "The connection closed as it should."
    if expected is not None and expected.wrong_endpoint_fatal and expected.closed_by_me != outcome.closed_by_me:
        outcome.behavior = FAILED
    if outcome.own_behavior_close is not None:
        outcome.behavior_close = outcome.own_behavior_close
    return outcome
