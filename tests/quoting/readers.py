"""Models of readers that are not on this machine, kept to what their source does (and checked on real hosts)."""

from __future__ import annotations


def cron_decode(command: str, *, debian: bool = True) -> str:
    """cron's pass over a job's command (do_command.c) before ``sh -c``: ``\\%`` is '%', an unescaped '%' ends the
    command (the rest is stdin); Debian's cron also reads ``\\\\`` as one backslash, cronie keeps both."""
    out: list[str] = []
    escaped = False
    for character in command:
        if escaped:
            if character == "%" or (debian and character == "\\"):
                out[-1] = character
            else:
                out.append(character)
            escaped = False
        elif character == "%":
            break
        else:
            out.append(character)
            escaped = character == "\\"
    return "".join(out)


def cron_d_job(text: str) -> tuple[list[str], str, str]:
    """(five time fields, user, command) of the one job line of an /etc/cron.d file."""
    (line,) = [
        line for line in text.splitlines() if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    fields = line.split(None, 6)
    return fields[:5], fields[5], fields[6]
