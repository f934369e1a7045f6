"""The booking audit: a benchmark of a server that double-books is worthless.

Sell-out mode: every seat confirmed to any client must be in 1..capacity,
held by one uuid only (and a uuid must never get two numbers); at the end
the server's ``Stats.booked`` must equal the seats booked before the run plus
the distinct uuids confirmed, and, since every client was told sold out,
equal the capacity. Duration mode (each client cancels what it booked): the
seats still held by this run's clients at the end must be distinct and
``Stats.booked`` must equal the seats booked before the run plus those held.
Requests still unanswered at the end may or may not have been served, so
``Stats.booked`` may exceed the expectation by at most their number. The
audit assumes the run owns the server: nobody else books meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Audit:
    """The audit's verdict (summary.json's ``audit``): ok True, False (the server broke a rule: the run is
    worthless) or None (not checked: no end Stats, or a fixed-answer server that keeps no seats)."""

    ok: bool | None
    confirmed: int
    server_booked: int | None
    expected_booked: int | None
    message: str


NOT_AUDITED = Audit(
    ok=None,
    confirmed=0,
    server_booked=None,
    expected_booked=None,
    message="the server answers Stats with a Seat (a calibration target that keeps no seats): answers were "
    "counted, not checked, and nothing was audited",
)


def audit_sellout(
    confirmed: Iterable[tuple[int, str, int]],
    capacity: int,
    booked_before: int,
    end: tuple[int, int] | None,
    unanswered: int,
    completed: bool,
    reported: Sequence[str] = (),
) -> Audit:
    """Audit a sell-out run; ``confirmed`` holds (seat number, uuid, client) of every Seat answer."""
    problems = list(reported)
    by_number: dict[int, tuple[str, int]] = {}
    by_uuid: dict[str, int] = {}
    for number, uuid, client in confirmed:
        if not 1 <= number <= capacity:
            problems.append(
                f"seat {number} confirmed to uuid {uuid} (client {client}) is outside 1..{capacity}"
            )
        owner = by_number.get(number)
        if owner is None:
            by_number[number] = (uuid, client)
        elif owner[0] != uuid:
            problems.append(
                f"seat {number} confirmed to two uuids: {owner[0]} (client {owner[1]}) and {uuid} (client {client})"
            )
        held = by_uuid.setdefault(uuid, number)
        if held != number:
            problems.append(f"uuid {uuid} was confirmed two seats: {held} and {number}")
    n = len(by_uuid)
    expected = booked_before + n
    server_booked = end[1] if end else None
    if end is not None:
        problems += _stats_problems(end, capacity, expected, 0, unanswered, n, booked_before)
        if completed and not problems and end[1] != capacity:
            problems.append(
                f"every client was told sold out, but Stats says {end[1]} of {capacity} seats are booked"
            )
    return _verdict(problems, n, server_booked, expected, end is not None)


def audit_duration(
    held: Iterable[tuple[int, str]],
    capacity: int,
    booked_before: int,
    end: tuple[int, int] | None,
    unanswered: int,
    reported: Sequence[str] = (),
) -> Audit:
    """Audit a duration run; ``held`` is (seat number, uuid) still held by this run's clients at the end."""
    problems = list(reported)
    by_number: dict[int, str] = {}
    n = 0
    for number, uuid in held:
        n += 1
        other = by_number.setdefault(number, uuid)
        if other != uuid:
            problems.append(f"seat {number} is held by two uuids at the end: {other} and {uuid}")
    expected = booked_before + n
    if end is not None:
        # an unanswered Book may have taken a seat, an unanswered Cancel may have freed one
        problems += _stats_problems(end, capacity, expected, unanswered, unanswered, n, booked_before)
    return _verdict(problems, n, end[1] if end else None, expected, end is not None)


def _stats_problems(
    end: tuple[int, int], capacity: int, expected: int, low: int, high: int, confirmed: int, before: int
) -> list[str]:
    end_capacity, booked = end
    out = []
    if end_capacity != capacity:
        out.append(
            f"Stats capacity changed during the run: {capacity} at the start, {end_capacity} at the end"
        )
    if not expected - low <= booked <= expected + high:
        slack = f" (give or take {high} unanswered requests)" if high else ""
        out.append(
            f"Stats says {booked} seats booked, but clients hold {confirmed} confirmed seats"
            f" + {before} booked before the run = {expected}{slack}"
        )
    return out


def _verdict(
    problems: list[str], confirmed: int, server_booked: int | None, expected: int, have_end: bool
) -> Audit:
    if problems:
        ok: bool | None = False
        message = "; ".join(problems[:20]) + (
            f"; ... {len(problems) - 20} more" if len(problems) > 20 else ""
        )
    elif not have_end:
        ok = None
        message = "could not read the server's Stats at the end: the totals were not checked"
    else:
        ok = True
        message = f"{confirmed} confirmed seats distinct and in range; Stats agrees ({server_booked} booked)"
    return Audit(
        ok=ok, confirmed=confirmed, server_booked=server_booked, expected_booked=expected, message=message
    )
