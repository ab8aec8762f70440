"""Small helpers shared by the fact parsers."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from pyinfra.api.exceptions import FactProcessError


def unreadable(tool: str, line: str, why: str = "") -> FactProcessError:
    """The error a parser raises for output it cannot read: names the tool and quotes the line."""
    reason = f" ({why})" if why else ""
    return FactProcessError(f"cannot read {tool} output line{reason}: {line!r}")


def meaningful_lines(output: Iterable[str]) -> list[str]:
    """Lines with trailing whitespace removed (ss, lsof and ufw pad their columns), blank lines dropped."""
    return [line.rstrip() for line in output if line.strip()]


def required_lines(tool: str, output: list[str]) -> list[str]:
    """``meaningful_lines`` of output that must hold something: blank lines alone are unreadable.

    pyinfra calls ``process`` only when the command printed something; for a tool that prints nothing when it has
    nothing to report, output of blank lines only is no answer at all.
    """
    lines = meaningful_lines(output)
    if not lines:
        raise unreadable(tool, output[0] if output else "", "only blank lines")
    return lines


def ipv4_addresses(values: Iterable[str]) -> tuple[str, ...]:
    """The IPv4 addresses among ``values``, in order; placeholders ('-', '--', 'N/A', 'UNKNOWN') and IPv6 skipped."""
    found: list[str] = []
    for value in values:
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            continue
        if address.version == 4:
            found.append(str(address))
    return tuple(found)


def column_starts(header: str) -> list[int]:
    """Start offsets of the words of a table header ('Name    State   IPv4' -> [0, 8, 16])."""
    starts = []
    for index, char in enumerate(header):
        if char != " " and (index == 0 or header[index - 1] == " "):
            starts.append(index)
    return starts


def cut_columns(line: str, starts: list[int]) -> list[str]:
    """Cut ``line`` at the header's column offsets; for tables whose cells may hold single spaces."""
    bounds = [*starts[1:], len(line) + 1]
    return [line[start:end].strip() for start, end in zip(starts, bounds, strict=True)]
