"""pf on macOS: an anchor that limits the gateways' ports to the allowed sources, loaded now and at every boot.

The application firewall (``macos_firewall``) decides per application, not per port or source, so a gateway that
listens beyond loopback (``bind: lan`` / ``tailnet``) gets a pf anchor as well (the guide's macOS firewall section).
macOS loads ``/etc/pf.conf`` at boot but does not enable pf: a LaunchDaemon of the deploy's own does
(``pfctl -E -f /etc/pf.conf``, ``boot_plist_content``); the deploy loads it with ``launchd_service.launchd_job``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator, Sequence
from io import StringIO

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import FileContents
from pyinfra.operations import files

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.pf import PfAnchorRules, PfEnabled
from openclaw_infra.operations.file_ownership import file_is_current
from openclaw_infra.quoting import quoted
from openclaw_infra.rendering import render, render_plist

ANCHOR = "ai.openclaw"
ANCHOR_FILE = f"/etc/pf.anchors/{ANCHOR}"
PF_CONF = "/etc/pf.conf"
TABLE = "openclaw_allowed"
BOOT_LABEL = "ai.openclaw.pf"
BOOT_PLIST = f"/Library/LaunchDaemons/{BOOT_LABEL}.plist"
# What /etc/pf.conf needs so that the anchor is evaluated and loaded with it (after Apple's own anchors).
PF_CONF_LINES = (f'anchor "{ANCHOR}"', f'load anchor "{ANCHOR}" from "{ANCHOR_FILE}"')


def anchor_content(ports: Sequence[int], allowed_sources: Sequence[str]) -> str:
    """The anchor's rules (``templates/pf/openclaw.anchor.j2``); sources are addresses or networks."""
    if not ports or not all(isinstance(port, int) and 0 < port < 65536 for port in ports):
        raise OperationValueError(f"ports {list(ports)!r} are not TCP ports")
    if not allowed_sources:
        raise OperationValueError("no allowed sources: a gateway beyond loopback needs at least one")
    sources = [str(ipaddress.ip_network(source, strict=False)) for source in allowed_sources]
    return render("pf/openclaw.anchor.j2", table_name=TABLE, sources=sources, ports=sorted(set(ports)))


def rule_count(content: str) -> int:
    """The rules ``pfctl -a ANCHOR -s rules`` lists for ``content``: every line but comments and the table."""
    return sum(1 for line in content.splitlines() if line.strip() and not line.startswith(("#", "table ")))


def boot_plist_content() -> str:
    return render_plist("launchd/openclaw-pf.plist.json.j2", label=BOOT_LABEL, pf_conf=PF_CONF).decode()


@operation()
def pf_anchor(ports: list[int], allowed_sources: list[str]) -> Generator[StringCommand, None, None]:
    """
    ``/etc/pf.anchors/ai.openclaw`` (root:wheel 644) letting ``ports`` answer loopback and ``allowed_sources``
    only; ``/etc/pf.conf`` naming it (two lines appended after a backup; a macOS upgrade that restores the file
    is put right by the next run); the rules loaded (``pfctl -f /etc/pf.conf``, which loads the anchor with
    Apple's own) when either file changed or pf holds other than the anchor's rules (flushed or edited: the rule
    count differs); pf enabled; and the boot LaunchDaemon's plist that enables pf with ``/etc/pf.conf`` at every
    boot. Needs root.

    + ports: the gateways' TCP ports
    + allowed_sources: addresses or CIDRs that may connect
    """
    content = anchor_content(ports, allowed_sources)
    boot_plist = boot_plist_content()
    anchor_current = file_is_current(ANCHOR_FILE, content, "root", "wheel", 644)
    boot_current = file_is_current(BOOT_PLIST, boot_plist, "root", "wheel", 644)
    pf_conf, enabled = read_facts((FileContents, {"path": PF_CONF}), (PfEnabled, {}))
    missing = [line for line in PF_CONF_LINES if line not in (pf_conf or [])]
    # The anchor exists in pf only once a pf.conf naming it was loaded; listing one pf does not have may fail.
    loaded = None if missing else read_facts((PfAnchorRules, {"anchor": ANCHOR}))[0]
    changed = []
    if not anchor_current:
        yield from files.put._inner(src=StringIO(content), dest=ANCHOR_FILE, user="root", group="wheel", mode="644")
        changed.append("anchor file")
    if missing:
        backup = quoted(f"{PF_CONF}.before-openclaw")
        yield StringCommand(
            "cp -p", quoted(PF_CONF), backup, "&& printf '%s\\n'", *(quoted(line) for line in missing),
            ">>", quoted(PF_CONF),
        )  # fmt: skip
        changed.append("pf.conf")
    if changed or len(loaded or []) != rule_count(content):
        yield StringCommand("pfctl -f", quoted(PF_CONF))
        changed.append("rules loaded")
    if not enabled:
        yield StringCommand("pfctl -E")
        changed.append("pf enabled")
    if not boot_current:
        yield from files.put._inner(src=StringIO(boot_plist), dest=BOOT_PLIST, user="root", group="wheel", mode="644")
        changed.append("boot LaunchDaemon")
    if not changed:
        host.noop(f"pf enabled, anchor {ANCHOR} loaded with its {rule_count(content)} rules, and at boot")
