"""The guide's "Local Admin Agent" as openclaw.json writes it on OpenClaw 2026.9.6, derived from the settings alone
so the config, the directories the deploy makes and the checks never disagree.

2026.9.6 keeps agents under ``agents.entries`` (the guide's ``agents.list`` and ``default: true`` are retired). Two
agents make an explicit fleet: channels then reach only the agent a binding names and fail closed otherwise, so the
main agent is named the system agent and bound to every channel the config has, and the admin agent to none.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Mapping
from typing import Any

from openclaw_infra.settings import MAIN_AGENT, Gateway, Settings

# The guide's definition: host automation and files, no web, no browser, no posting to channels; no elevation.
TOOLS_ALLOWED = ["group:fs", "group:runtime", "group:automation", "memory_search", "memory_get"]
# The guide's denials, plus the session tools it names as absent (no contact with, or spawning of, other agents):
# denied as well as left out of the allowlist, so a later allowlist edit cannot hand them back.
TOOLS_DENIED = ["group:web", "browser", "message", "sessions_send", "sessions_spawn"]


@dataclasses.dataclass(frozen=True)
class AdminAgentPaths:
    """Where the admin agent's state lives, under its gateway's state dir."""

    agent_dir: str
    workspace: str
    # main's workspace: pinned in the config, since an explicit fleet would otherwise move main to workspace-main.
    main_workspace: str
    # The directories the deploy makes (0700, the gateway user's) before the gateway starts.
    made: tuple[str, ...]


def paths_of(settings: Settings, gateway: Gateway) -> AdminAgentPaths | None:
    admin = settings.local_admin_agent
    if admin is None or settings.admin_agent_gateway() != gateway:
        return None
    state_dir = settings.state_dir_of(gateway)
    main_workspace = posixpath.join(state_dir, "workspace")
    agent_dir = posixpath.join(state_dir, "agents", admin.agent_id, "agent")
    workspace = main_workspace if admin.shared_workspace else posixpath.join(state_dir, "workspaces", admin.agent_id)
    made = [posixpath.join(state_dir, "agents"), posixpath.dirname(agent_dir), agent_dir]
    if not admin.shared_workspace:
        made += [posixpath.dirname(workspace), workspace]
    return AdminAgentPaths(agent_dir, workspace, main_workspace, tuple(made))


def agent_config(settings: Settings, gateway: Gateway, channels: Mapping[str, Any]) -> dict[str, Any]:
    """What ``openclaw_local_admin_agent`` adds to ``gateway``'s openclaw.json (nothing unless it carries the agent):
    both agents' entries, main as the system agent and the heartbeat's, and a binding of each of ``channels`` (the
    config's channels) to main."""
    paths = paths_of(settings, gateway)
    if paths is None or settings.local_admin_agent is None:
        return {}
    agent_id = settings.local_admin_agent.agent_id
    admin_entry = {
        "workspace": paths.workspace,
        "agentDir": paths.agent_dir,
        # Runs on the host as the gateway's user: host access is the point.
        "sandbox": {"mode": "off"},
        "tools": {"allow": TOOLS_ALLOWED, "deny": TOOLS_DENIED, "elevated": {"enabled": False}},
        "subagents": {"allowAgents": []},
    }
    return {
        "agents": {
            "ownership": "explicit",
            "defaults": {"systemAgent": {"agentId": MAIN_AGENT}, "heartbeat": {"agentId": MAIN_AGENT}},
            "entries": {MAIN_AGENT: {"workspace": paths.main_workspace}, agent_id: admin_entry},
        },
        "bindings": [
            {"agentId": MAIN_AGENT, "match": {"channel": channel, "accountId": "*"}} for channel in sorted(channels)
        ],
    }
