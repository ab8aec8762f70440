"""Every launchd plist the project writes (the gateway's, the pruning, pf, VM boot and drift schedule daemons),
parsed back with plistlib and checked against launchd.plist(5)'s keys and types; the gateway's for a LaunchDaemon
and a LaunchAgent, with and without a profile. No Mac runs here: what launchd does with them is not proven, only
that they are the plists launchd documents."""

from __future__ import annotations

import plistlib
from typing import Any

import pytest
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.hiddenvalue import HiddenValue

from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.operations import drift_schedule, lume_vms, pf_firewall
from openclaw_infra.operations.launchd_service import plist_content
from openclaw_infra.operations.log_maintenance import launchd_calendar
from openclaw_infra.rendering import render_plist
from openclaw_infra.settings import Settings

# launchd.plist(5): the keys this plist may use, and their types.
LAUNCHD_KEYS: dict[str, type | tuple[type, ...]] = {
    "Label": str,
    "UserName": str,
    "GroupName": str,
    "InitGroups": bool,
    "ProgramArguments": list,
    "WorkingDirectory": str,
    "EnvironmentVariables": dict,
    "StandardOutPath": str,
    "StandardErrorPath": str,
    "RunAtLoad": bool,
    "KeepAlive": (bool, dict),
    "ThrottleInterval": int,
    "ExitTimeOut": int,
    "Umask": int,
    "StartCalendarInterval": dict,
    "ProcessType": str,
}
TOKEN = "tok-<&>'\"-ünï"
SECRETS = {"secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "OPENCLAW_GATEWAY_TOKEN"}}}


def rendered(service: str = "launch-daemon", **gateway: Any) -> tuple[dict[str, Any], GatewayPaths]:
    settings = Settings.model_validate(
        {"os_family": "macos", "macos_service": service, "gateways": [gateway] if gateway else [{}], **SECRETS}
    )
    (one,) = settings.gateways
    paths = GatewayPaths(settings, one)
    secrets = {"OPENCLAW_GATEWAY_TOKEN": HiddenValue(TOKEN)}  # type: ignore[no-untyped-call]
    content = plist_content(settings, one, paths, secrets)
    assert isinstance(content, HiddenValue)
    return plistlib.loads(content.unmask().encode()), paths


def test_a_launch_daemon_runs_as_the_service_user_with_its_groups() -> None:
    plist, paths = rendered()
    assert set(plist) <= set(LAUNCHD_KEYS), set(plist) - set(LAUNCHD_KEYS)
    assert all(isinstance(plist[key], LAUNCHD_KEYS[key]) for key in plist)
    assert paths.plist == "/Library/LaunchDaemons/ai.openclaw.gateway.plist"
    assert paths.launch_agent_user is None
    assert (plist["Label"], plist["UserName"], plist["GroupName"], plist["InitGroups"]) == (
        "ai.openclaw.gateway", "openclaw", "openclaw", True,
    )  # fmt: skip
    assert plist["ProgramArguments"] == [
        "/opt/node/bin/node", "/opt/openclaw/lib/node_modules/openclaw/openclaw.mjs", "gateway", "--port", "18789",
    ]  # fmt: skip
    assert plist["WorkingDirectory"] == "/Users/openclaw/.openclaw"
    assert plist["StandardErrorPath"] == "/Users/openclaw/.openclaw/logs/gateway.err.log"
    assert (plist["RunAtLoad"], plist["KeepAlive"], plist["ExitTimeOut"], plist["Umask"]) == (True, True, 330, 0o077)


def test_the_environment_is_the_services_and_the_secret_only_there() -> None:
    plist, _ = rendered()
    environment = plist["EnvironmentVariables"]
    assert environment["OPENCLAW_GATEWAY_TOKEN"] == TOKEN  # escaped in the XML, intact once parsed
    assert environment["OPENCLAW_SERVICE_REPAIR_POLICY"] == "external"
    assert environment["OPENCLAW_NO_AUTO_UPDATE"] == "1"
    assert environment["HOME"] == environment["OPENCLAW_HOME"] == "/Users/openclaw"
    assert environment["OPENCLAW_CONFIG_PATH"] == "/Users/openclaw/.openclaw/openclaw.json"
    # Homebrew's admin-writable directories are not on the service's PATH (the guide's warning).
    assert environment["PATH"].split(":") == [
        "/opt/node/bin",
        "/usr/local/bin",
        "/usr/bin",
        "/bin",
        "/usr/sbin",
        "/sbin",
    ]
    assert "OPENCLAW_PROFILE" not in environment
    assert TOKEN not in repr({key: value for key, value in plist.items() if key != "EnvironmentVariables"})


def test_a_launch_agent_of_a_profile_lives_in_the_users_library() -> None:
    plist, paths = rendered("launch-agent", profile="work", port=18809)
    assert paths.plist == "/Users/openclaw/Library/LaunchAgents/ai.openclaw.work.plist"
    assert paths.launch_agent_user == "openclaw"
    assert plist["Label"] == "ai.openclaw.work"
    assert not {"UserName", "GroupName", "InitGroups"} & set(plist)  # its GUI domain decides who it runs as
    assert plist["ProgramArguments"][2:] == ["--profile", "work", "gateway", "--port", "18809"]
    assert plist["EnvironmentVariables"]["OPENCLAW_PROFILE"] == "work"
    assert plist["EnvironmentVariables"]["GIT_CONFIG_GLOBAL"] == "/Users/openclaw/.openclaw-work/.gitconfig"
    assert plist["WorkingDirectory"] == "/Users/openclaw/.openclaw-work"


def test_a_secret_may_not_replace_the_services_environment() -> None:
    settings = Settings.model_validate({"os_family": "macos", **SECRETS})
    (gateway,) = settings.gateways
    paths = GatewayPaths(settings, gateway)
    with pytest.raises(OperationValueError, match="PATH"):
        plist_content(settings, gateway, paths, {"PATH": HiddenValue("/tmp/evil")})  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("schedule", "calendar"),
    [
        ("0 4 * * *", {"Minute": 0, "Hour": 4}),
        ("30 2 * * 0", {"Minute": 30, "Hour": 2, "Weekday": 0}),
        ("15 * 1 * *", {"Minute": 15, "Day": 1}),
    ],
)
def test_a_cron_schedule_as_launchds_calendar(schedule: str, calendar: dict[str, int]) -> None:
    assert launchd_calendar(schedule) == calendar


@pytest.mark.parametrize("schedule", ["*/15 * * * *", "0 1-5 * * *", "0 4 * * 1,3", "61 * * * *"])
def test_what_launchds_calendar_cannot_say_is_refused(schedule: str) -> None:
    with pytest.raises(OperationValueError, match="launchd takes a number"):
        launchd_calendar(schedule)


def test_the_pruning_daemon_runs_as_the_user_on_the_calendar() -> None:
    content = render_plist(
        "launchd/openclaw-sessions.plist.json.j2", label="ai.openclaw.gateway.sessions", user="openclaw",
        state_dir="/Users/o'claw/.openclaw", openclaw_bin="/opt/openclaw/bin/openclaw", node_bin_dir="/opt/node/bin",
        profile=None, prune_after_days=30, calendar=launchd_calendar("0 4 * * *"),
    )  # fmt: skip
    plist = plistlib.loads(content)
    assert set(plist) <= set(LAUNCHD_KEYS)
    assert all(isinstance(plist[key], LAUNCHD_KEYS[key]) for key in plist)
    assert (plist["UserName"], plist["StartCalendarInterval"]) == ("openclaw", {"Hour": 4, "Minute": 0})
    shell, flag, script = plist["ProgramArguments"]
    assert (shell, flag) == ("/bin/sh", "-c")
    # The quote in the home survives /bin/sh: the path is one word.
    assert "find '/Users/o'\"'\"'claw/.openclaw/agents' -name '*.jsonl' -mtime +30 -delete" in script
    assert "--profile" not in script


def _documented(plist: dict[str, Any]) -> None:
    assert set(plist) <= set(LAUNCHD_KEYS), set(plist) - set(LAUNCHD_KEYS)
    assert all(isinstance(plist[key], LAUNCHD_KEYS[key]) for key in plist)


def test_the_pf_boot_daemon_enables_pf_with_pf_conf_at_load() -> None:
    plist = plistlib.loads(pf_firewall.boot_plist_content().encode())
    _documented(plist)
    assert plist["Label"] == pf_firewall.BOOT_LABEL and plist["RunAtLoad"] is True and "UserName" not in plist
    assert plist["ProgramArguments"] == ["/sbin/pfctl", "-E", "-f", pf_firewall.PF_CONF]


@pytest.mark.parametrize(
    ("hypervisor", "program", "arguments"),
    [
        ("lume", "/Users/admin/.local/bin/lume", ["run", "gw-one", "--no-display"]),
        ("parallels", "/usr/local/bin/prlctl", ["start", "gw-one"]),
    ],
)
def test_a_vm_boot_daemon_starts_its_vm_as_the_owner_once(hypervisor: str, program: str, arguments: list[str]) -> None:
    plist = plistlib.loads(lume_vms.boot_plist_content("gw-one", hypervisor, "admin", program).encode())
    _documented(plist)
    assert (plist["Label"], plist["UserName"], plist["RunAtLoad"]) == ("ai.openclaw.vm.gw-one", "admin", True)
    assert plist["ProgramArguments"] == [program, *arguments]
    assert "KeepAlive" not in plist  # a VM someone stopped stays stopped until the next boot


def test_the_drift_schedule_daemon_is_a_documented_plist() -> None:
    content = drift_schedule.launchd_plist(
        "ai.openclaw.drift", "/usr/local/libexec/openclaw-drift", "admin", {"Hour": 3, "Minute": 0}, "/var/log/d.log"
    )
    plist = plistlib.loads(content.encode())
    _documented(plist)
    assert plist["StartCalendarInterval"] == {"Hour": 3, "Minute": 0} and plist["UserName"] == "admin"
