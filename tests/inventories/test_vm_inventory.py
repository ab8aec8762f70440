"""inventories/vm_hosts.py and inventories/vms.py on this machine: discovery through the facts' own commands run
for real (libvirt's test driver; multipass and utmctl replaced by scripts printing output captured from the real
tools, source named at each use), what is reported, what is refused before any connection, and drift."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyinfra.connectors.sshuserclient.client import SSHClient
from pyinfra.connectors.sshuserclient.config import SSHConfig

from openclaw_infra.host_settings import SettingsError
from openclaw_infra.inventory import vm_hosts_with_settings
from openclaw_infra.vm_discovery import (
    CONNECT_RETRIES,
    JUMP_ALIAS,
    UnavailableVm,
    discover_vms,
    judge_vm,
    list_vms,
    recording_unavailable,
    vm_groups,
    write_jump_config,
)
from tests.helpers import PROJECT_ROOT
from tests.inventories.vm_files import (
    FIX,
    real_output,
    render_node,
    run_inventory,
    vm,
    vm_host,
    write_vm_hosts,
)

DRIFT = str(Path(sys.executable).parent / "openclaw-infra")
TOKEN_OF_TEST = {"OPENCLAW_GATEWAY_TOKEN": {"command": ["echo", "token-of-test"]}}


def discovered(hosts: dict[str, dict[str, Any]], **kwargs: Any) -> tuple[dict[str, Any], list[str]]:
    """``vm_groups`` over ``hosts`` in this process: the groups, and the lines it reported."""
    report = io.StringIO()
    groups = vm_groups(list(hosts.items()), report=report, **kwargs)
    return groups, report.getvalue().splitlines()


@pytest.fixture
def node(tmp_path: Path) -> str:
    """A libvirt test-driver node (tests/fixtures/inventories/vm_host_node.xml): vm-with-address at .10."""
    return f"test://{render_node(tmp_path / 'node.xml', '192.168.122.10')}"


@pytest.fixture
def tool_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory first on PATH for stand-ins of tools this machine cannot run (multipass, utmctl)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}:/usr/sbin:/usr/bin:/sbin:/bin")
    return directory


def stand_in(tool_bin: Path, tool: str, *outputs: str) -> Path:
    """``tool`` printing ``outputs`` on successive calls (the last one from then on); returns its call counter."""
    counter = tool_bin / f"{tool}.calls"
    for index, output in enumerate(outputs):
        (tool_bin / f"{tool}.out{index}").write_text(output)
    script = tool_bin / tool
    script.write_text(
        "#!/bin/sh\n"
        f"n=$(cat '{counter}' 2>/dev/null || echo 0); echo $((n + 1)) > '{counter}'\n"
        f"[ $n -lt {len(outputs)} ] || n={len(outputs) - 1}\n"
        f"cat '{tool_bin}/{tool}.out'$n\n"
    )
    script.chmod(0o755)
    return counter


# libvirt: its real test driver.


def test_a_running_vm_of_the_default_test_driver_is_a_host_with_its_gateway_data() -> None:
    # `virsh -c test:///default` lists one running domain, "test", at 192.168.122.3 (libvirt's built-in node).
    groups, report = discovered({"@local": vm_host("libvirt", vm("test"), vm("ghost"), libvirt_uri="test:///default")})
    assert groups == {
        "@local": (
            [
                (
                    "test",
                    {
                        **CONNECT_RETRIES,
                        "ssh_hostname": "192.168.122.3",
                        "ssh_user": "admin",
                        "_sudo": True,
                        "openclaw_secrets": TOKEN_OF_TEST,
                        "openclaw_isolation": "linux-vm",
                        "openclaw_os_family": "linux",
                    },
                )
            ],
            {},
        )
    }
    # Declared names that do not exist there are "missing": test:///default's state lasts one connection only.
    assert report == [
        f"VM 'ghost' on @local is declared but missing (virsh lists no VM of that name): {FIX} create and start it."
    ]


def test_the_vm_hosts_own_connect_retries_win() -> None:
    data = {**vm_host("libvirt", vm("test"), libvirt_uri="test:///default"), "ssh_connect_retries": 0}
    groups, _ = discovered({"@local": data})
    ((_, vm_data),) = groups["@local"][0]
    assert (vm_data["ssh_connect_retries"], vm_data["ssh_connect_retry_max_delay"]) == (0, 5.0)


def test_every_way_a_declared_vm_is_not_there_is_reported(node: str) -> None:
    groups, report = discovered(
        {
            "@local": vm_host(
                "libvirt",
                vm("vm-with-address", admin_user="ops", gateway={"openclaw_secrets": TOKEN_OF_TEST}),
                vm("vm-no-address"),
                vm("vm-off"),
                vm("vm-gone"),
                libvirt_uri=node,
            )
        }
    )
    ((name, data),) = groups["@local"][0]
    assert (name, data["ssh_hostname"], data["ssh_user"]) == ("vm-with-address", "192.168.122.10", "ops")
    assert report == [
        "VM 'vm-no-address' on @local is declared but running without an IPv4 address (virsh lists none): wait "
        "for it to boot, or check its network, then load the inventory again.",
        f"VM 'vm-off' on @local is declared but stopped (virsh says 'shut off'): {FIX} start it.",
        f"VM 'vm-gone' on @local is declared but missing (virsh lists no VM of that name): {FIX} create and start it.",
    ]


def test_a_vm_declared_stopped_or_absent_is_reported_only_when_found_otherwise(node: str) -> None:
    groups, report = discovered(
        {
            "@local": vm_host(
                "libvirt",
                vm("vm-off", state="stopped"),  # as declared
                vm("vm-gone", state="absent"),  # as declared
                vm("vm-with-address", state="stopped"),
                vm("vm-no-address", state="absent"),
                vm("vm-never-made", state="stopped"),
                libvirt_uri=node,
            )
        }
    )
    assert groups == {}
    assert report == [
        f"VM 'vm-with-address' on @local is declared stopped but running (virsh says 'running'): {FIX} stop it.",
        f"VM 'vm-no-address' on @local is declared absent but present (virsh says 'running'): {FIX} remove it.",
        "VM 'vm-never-made' on @local is declared stopped but missing (virsh lists no VM of that name): "
        f"{FIX} create it.",
    ]


def test_a_libvirt_vm_without_an_address_is_not_waited_for(node: str, tool_bin: Path) -> None:
    # libvirt has no "starting" state: waiting on every address-less VM would make each load take minutes.
    counter = tool_bin / "virsh.calls"
    (tool_bin / "virsh").write_text(f"#!/bin/sh\necho x >> '{counter}'\nexec /usr/bin/virsh \"$@\"\n")
    (tool_bin / "virsh").chmod(0o755)
    settings = vm_hosts_with_settings([("@local", vm_host("libvirt", vm("vm-no-address"), libvirt_uri=node))])
    listing = list_vms("@local", {}, settings["@local"].vm_host)
    # One `virsh list`, then dominfo and domifaddr for each of the node's three domains: asked once.
    assert len(counter.read_text().split()) == 1 + 2 * 3
    assert {record.name: record.ipv4 for record in listing.vms}["vm-no-address"] == ()


# multipass and utmctl: stand-ins printing real captured output.


def test_multipass_json_real_output(tool_bin: Path) -> None:
    # shared/fixtures/real-outputs/multipass_list__json_running_stopped_no_ip.txt (multipass's own golden file)
    stand_in(tool_bin, "multipass", real_output("multipass_list__json_running_stopped_no_ip.txt"))
    groups, report = discovered(
        {"@local": vm_host("multipass", vm("bogus-instance", base_image="24.04"), vm("bombastic", base_image="24.04"))}
    )
    assert [(name, data["ssh_hostname"]) for name, data in groups["@local"][0]] == [("bogus-instance", "10.21.124.56")]
    assert report == [f"VM 'bombastic' on @local is declared but stopped (multipass says 'Stopped'): {FIX} start it."]


def test_multipass_table_real_output(tool_bin: Path) -> None:
    # shared/fixtures/real-outputs/multipass_list__table_deleted_suspended_states.txt (multipass's golden table)
    stand_in(tool_bin, "multipass", real_output("multipass_list__table_deleted_suspended_states.txt"))
    names = ("trusty-190611-1529", "trusty-190611-1539", "trusty-190611-1542")
    groups, report = discovered({"@local": vm_host("multipass", *(vm(name, base_image="24.04") for name in names))})
    assert groups == {}
    assert report == [
        f"VM 'trusty-190611-1529' on @local is declared but other (multipass says 'Deleted'): {FIX} start it.",
        f"VM 'trusty-190611-1539' on @local is declared but suspended (multipass says 'Suspended'): {FIX} start it.",
        "VM 'trusty-190611-1542' on @local is declared but running without an IPv4 address (multipass lists none): "
        "wait for it to boot, or check its network, then load the inventory again.",
    ]


def test_a_starting_vm_is_waited_for_until_it_has_an_address(tool_bin: Path) -> None:
    # The capture (multipass_list__json_running_stopped_no_ip.txt), answered first as multipass answers while the
    # instance boots: "Starting" without an address (that first answer is derived, not captured).
    captured = real_output("multipass_list__json_running_stopped_no_ip.txt")
    booting = json.loads(captured)
    booting["list"][0].update(state="Starting", ipv4=[])
    counter = stand_in(tool_bin, "multipass", json.dumps(booting), captured)
    declared = vm_host("multipass", vm("bogus-instance", base_image="24.04"), address_wait_seconds=60)

    groups, report = discovered({"@local": declared})

    assert counter.read_text().strip() == "2"
    assert [name for name, _ in groups["@local"][0]] == ["bogus-instance"] and report == []
    # Without time to wait, it is reported as starting, not as stopped.
    counter.unlink()
    groups, report = discovered(
        {"@local": {"openclaw_vm_host": {**declared["openclaw_vm_host"], "address_wait_seconds": 0}}}
    )
    assert groups == {}
    assert report == [
        "VM 'bogus-instance' on @local is declared but starting (multipass says 'Starting'): wait for it to come up "
        "(address_wait_seconds is 0), then load the inventory again."
    ]


def test_a_running_lume_vm_is_a_macos_gateway_host_and_lume_is_asked_as_the_vms_owner(tool_bin: Path) -> None:
    # shared/fixtures/real-outputs/lume_list__json_running_test_fixture.txt (lume ls --format json: test-vm)
    stand_in(tool_bin, "lume", real_output("lume_list__json_running_test_fixture.txt"))
    declared = vm_host("lume", vm("test-vm", base_image="latest", admin_user="lume"), vm_owner="admin")
    groups, report = discovered({"@local": {**declared, "_sudo": True}})
    ((name, data),) = groups["@local"][0]
    assert (name, data["ssh_hostname"], data["ssh_user"]) == ("test-vm", "192.168.64.10", "lume")
    assert (data["openclaw_isolation"], data["openclaw_os_family"]) == ("macos-vm", "macos")
    assert report == []
    # Asked without sudo (lume lists the VMs of the user who asks), its installer's directory first on PATH; a
    # stand-in sudo says whether it was used (it is, for a Multipass VM host with _sudo).
    sudo = tool_bin / "sudo"
    sudo.write_text('#!/bin/sh\necho used > "$0.used"\nshift 2\nexec "$@"\n')
    sudo.chmod(0o755)
    script = (tool_bin / "lume").read_text()
    (tool_bin / "lume").write_text(script.replace("#!/bin/sh\n", '#!/bin/sh\necho "$PATH" > "$0.path"\n', 1))
    discovered({"@local": {**declared, "_sudo": True}})
    assert not (tool_bin / "sudo.used").exists()
    assert (tool_bin / "lume.path").read_text().startswith("/Users/admin/.local/bin:/usr/local/bin:")
    stand_in(tool_bin, "multipass", real_output("multipass_list__json_running_stopped_no_ip.txt"))
    discovered({"@local": {**vm_host("multipass", vm("bogus-instance", base_image="24.04")), "_sudo": True}})
    assert (tool_bin / "sudo.used").exists()


def test_multipass_not_installed_says_so(tool_bin: Path) -> None:
    _, report = discovered({"@local": vm_host("multipass", vm("openclaw-a", base_image="24.04"))})
    assert report == [
        f"VM 'openclaw-a' on @local is declared but missing (multipass is not installed there): {FIX} create and "
        "start it."
    ]


def test_utmctl_refused_apple_events_is_a_vm_host_that_cannot_be_asked(tool_bin: Path) -> None:
    # shared/fixtures/real-outputs/utmctl_list__error_osstatus_1743_header_only.txt (UTM issue 5001): over SSH
    # without automation consent utmctl prints its header only, the error folded in. Not "no VMs".
    stand_in(tool_bin, "utmctl", real_output("utmctl_list__error_osstatus_1743_header_only.txt"))
    found = discover_vms([("@local", vm_host("utm", vm("openclaw-a")))])
    (unavailable,) = found.unavailable
    assert unavailable.listed is False
    assert unavailable.found.startswith("its VM host cannot be asked (cannot list its VMs: could not process fact")
    assert "Error from event" in unavailable.found


def test_a_running_utm_vm_has_no_address_to_reach(tool_bin: Path) -> None:
    # shared/fixtures/real-outputs/utmctl_list__one_started.txt: "Tsapp", started. UTM lists no addresses. A VM
    # name here is a lower-case DNS label, so the captured name is lower-cased to be declared.
    stand_in(tool_bin, "utmctl", real_output("utmctl_list__one_started.txt"))
    settings = vm_hosts_with_settings([("@local", vm_host("utm", vm("tsapp")))])["@local"].vm_host
    listing = list_vms("@local", {}, settings)
    (record,) = listing.vms
    assert (record.name, record.raw_state, record.ipv4) == ("Tsapp", "started", ())
    # As listed, "Tsapp" is not the declared "tsapp": names are compared exactly.
    assert judge_vm("@local", settings, settings.vms[0], listing) == UnavailableVm(
        "@local", "tsapp", "running", "missing (utmctl lists no VM of that name)", f"{FIX} create and start it."
    )
    renamed = dataclasses.replace(listing, vms=[dataclasses.replace(record, name="tsapp")])
    judged = judge_vm("@local", settings, settings.vms[0], renamed)
    assert isinstance(judged, UnavailableVm)
    assert judged.found == "running without an IPv4 address (utmctl lists none)"
    assert "list it in inventories/hosts.toml by its address" in judged.fix


# A VM host that cannot be asked.


def test_an_unreachable_vm_host_is_reported_and_hides_no_other(node: str) -> None:
    groups, report = discovered(
        {
            "@local": vm_host("libvirt", vm("vm-with-address"), libvirt_uri=node),
            "hyper-down": {"ssh_hostname": "127.0.0.1", "ssh_port": 1, **vm_host("libvirt", vm("far"))},
        }
    )
    assert [name for name, _ in groups["@local"][0]] == ["vm-with-address"] and "hyper-down" not in groups
    (line,) = report
    assert line.startswith("VM 'far' on hyper-down is declared but its VM host cannot be asked (cannot connect: ")
    assert line.endswith("its state is unknown; make hyper-down answer (its connection data, virsh there), then load "
                         "the inventory again.")  # fmt: skip


def test_a_hypervisor_that_does_not_answer_is_a_vm_host_that_cannot_be_asked() -> None:
    _, report = discovered({"@local": vm_host("libvirt", vm("a"), libvirt_uri="test:///nonexistent/node.xml")})
    (line,) = report
    assert "its VM host cannot be asked (cannot list its VMs: could not load fact" in line, line


# The drift command's view of what the inventory could not give.


def test_unavailable_vms_are_recorded_only_inside_the_drift_commands_block(node: str) -> None:
    hosts = [("@local", vm_host("libvirt", vm("vm-off"), vm("vm-with-address"), libvirt_uri=node))]
    with recording_unavailable() as recorded:
        vm_groups(hosts, report=io.StringIO())
    assert [(one.vm_host, one.vm, one.found) for one in recorded] == [
        ("@local", "vm-off", "stopped (virsh says 'shut off')")
    ]
    vm_groups(hosts, report=io.StringIO())
    assert len(recorded) == 1


def drift(vm_hosts_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRIFT, "drift", "inventories/vms.py", "deploys/linux_vm.py", *args],
        cwd=PROJECT_ROOT, env={**os.environ, "OPENCLAW_VM_HOSTS_FILE": str(vm_hosts_file)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_drift_names_a_declared_vm_that_is_missing_or_stopped_exit_1(tmp_path: Path, node: str) -> None:
    hosts_file = write_vm_hosts(
        tmp_path / "vm_hosts.toml", {"@local": vm_host("libvirt", vm("vm-gone"), vm("vm-off"), libvirt_uri=node)}
    )
    result = drift(hosts_file)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["vm-gone", "VM", "on", "@local", "running,", "as", "declared", "missing", "(virsh", "lists", "no", "VM",
            "of", "that", "name)"] in rows  # fmt: skip
    assert ["vm-off", "VM", "on", "@local", "running,", "as", "declared", "stopped", "(virsh", "says", "'shut",
            "off')"] in rows  # fmt: skip
    assert "0 ok, 2 drifted, 0 could not be checked" in result.stdout
    # The same lines as any load of the inventory, on stderr.
    assert "VM 'vm-gone' on @local is declared but missing" in result.stderr
    report = json.loads(drift(hosts_file, "--json").stdout)
    assert report["exit_code"] == 1
    assert {host["host"]: host["status"] for host in report["hosts"]} == {"vm-gone": "drift", "vm-off": "drift"}


def test_drift_with_a_vm_host_that_cannot_be_asked_is_incomplete_exit_2(tmp_path: Path, node: str) -> None:
    hosts_file = write_vm_hosts(
        tmp_path / "vm_hosts.toml",
        {
            "@local": vm_host("libvirt", vm("vm-gone"), libvirt_uri=node),
            "hyper-down": {"ssh_hostname": "127.0.0.1", "ssh_port": 1, **vm_host("libvirt", vm("far"))},
        },
    )
    result = drift(hosts_file, "--json")
    report = json.loads(result.stdout)
    # Its VMs' state is unknown: as for any host that cannot be checked, 2 wins over the drift of vm-gone.
    assert result.returncode == report["exit_code"] == 2
    statuses = {host["host"]: (host["status"], host["error"]) for host in report["hosts"]}
    assert statuses["vm-gone"] == ("drift", None)
    assert statuses["far"][0] == "unchecked"
    assert statuses["far"][1].startswith("VM on hyper-down: its VM host cannot be asked (cannot connect:")


# Refused before any connection.


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A TCP port that records every connection made to it: the VM host of the refusal tests."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[object] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            accepted.append(connection)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        server.close()


def _libvirt(*vms: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return vm_host("libvirt", *(vms or (vm("openclaw-a"),)), **fields)


JUMP = "its VMs are reached through it (jump), and an SSH config file cannot carry"


@pytest.mark.parametrize(
    ("extra", "vms_only", "expected"),
    [
        ({"openclaw_vm_host": None}, False, "host 'hyper1': openclaw_vm_host is missing. Fix: declare"),
        (
            _libvirt(vm("Bad_Name")),
            False,
            "host 'hyper1': openclaw_vm_host.vms[0].name: name 'Bad_Name' is not a VM name. Fix:",
        ),
        (
            _libvirt(vm("openclaw-a", gateway={"ssh_user": "root"})),
            False,
            "host 'hyper1': openclaw_vm_host.vms[0].gateway.ssh_user: is not gateway data. Fix:",
        ),
        (
            {"openclaw_gateways": [{}]},
            False,
            "host 'hyper1': openclaw_gateways: a VM host takes no gateway setting. Fix: move it into",
        ),
        # The jump is the VMs' inventory's concern: the VM hosts' own inventory may log in with a password.
        ({"ssh_password": "pw"}, True, f"host 'hyper1': ssh_password: {JUMP} a password. Fix:"),
        (
            {"ssh_key_password": "pw"},
            True,
            f"host 'hyper1': ssh_key_password: {JUMP} the key's passphrase. Fix: add the key to your ssh-agent",
        ),
        (
            {"ssh_key": "/keys/my key"},
            True,
            "host 'hyper1': ssh_key: '/keys/my key' holds ' ', which the SSH config naming hyper1 as its VMs' jump "
            "cannot carry. Fix:",
        ),
        (
            {"ssh_strict_host_key_checking": "maybe"},
            True,
            "host 'hyper1': ssh_strict_host_key_checking: 'maybe' is not one of yes, no, off, accept-new, ask.",
        ),
    ],
    ids=[
        "no-vm-host",
        "vm-name",
        "connection-data-in-gateway",
        "gateway-setting",
        "password",
        "key-passphrase",
        "space-in-key-path",
        "host-key-policy",
    ],
)
def test_bad_input_is_refused_before_any_connection(
    tmp_path: Path, listener: tuple[int, list[object]], extra: dict[str, Any], vms_only: bool, expected: str
) -> None:
    port, accepted = listener
    data = {"ssh_hostname": "127.0.0.1", "ssh_port": port, **_libvirt(), **extra}
    hosts_file = write_vm_hosts(
        tmp_path / "vm_hosts.toml", {"hyper1": {k: v for k, v in data.items() if v is not None}}
    )
    result = run_inventory("inventories/vms.py", hosts_file, "debug-inventory")
    printed = result.stdout + result.stderr
    assert result.returncode != 0 and expected in printed and "Traceback" not in printed, printed
    assert accepted == []
    result = run_inventory("inventories/vm_hosts.py", hosts_file, "debug-inventory")
    printed = result.stdout + result.stderr
    if vms_only:
        assert result.returncode == 0, printed
    else:
        assert result.returncode != 0 and expected in printed and "Traceback" not in printed, printed
    assert accepted == []


def test_two_vm_hosts_declaring_one_vm_name_are_refused(tmp_path: Path, listener: tuple[int, list[object]]) -> None:
    port, accepted = listener
    reached = {"ssh_hostname": "127.0.0.1", "ssh_port": port}
    hosts_file = write_vm_hosts(
        tmp_path / "vm_hosts.toml",
        {
            "hyper1": {**reached, **_libvirt()},
            "hyper2": {**reached, **_libvirt(vm("openclaw-a", gateway={"openclaw_secrets": TOKEN_OF_TEST}))},
        },
    )
    result = run_inventory("inventories/vms.py", hosts_file, "debug-inventory")
    assert result.returncode != 0
    assert "host 'hyper2': openclaw_vm_host.vms: VM 'openclaw-a' is also declared on 'hyper1'" in result.stderr
    assert accepted == []


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("@docker/debian", {}, "host '@docker/debian': a VM host is reached over SSH or is @local."),
        (
            "@local",
            {"openclaw_vm_host": {"jump": True}},
            "host '@local': openclaw_vm_host.jump: the VMs of @local run on this machine",
        ),
    ],
)
def test_a_vm_host_that_is_neither_ssh_nor_local_or_jumps_to_itself_is_refused(
    name: str, data: dict[str, Any], expected: str
) -> None:
    declared = _libvirt(**data.get("openclaw_vm_host", {}))
    with pytest.raises(SettingsError) as refused:
        discover_vms([(name, declared)])
    assert any(problem.startswith(expected) for problem in refused.value.problems), refused.value.problems


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no VM hosts file at"),
        ("[all]\n", 'names no VM host. Fix: add a [hosts."NAME"] table for each VM host.'),
        ('[vms."a"]\n', "unknown table(s) vms"),
    ],
)
def test_a_bad_vm_hosts_file_is_refused(tmp_path: Path, content: str | None, expected: str) -> None:
    hosts_file = tmp_path / "vm_hosts.toml"
    if content is not None:
        hosts_file.write_text(content)
    for inventory in ("inventories/vms.py", "inventories/vm_hosts.py"):
        result = run_inventory(inventory, hosts_file, "debug-inventory")
        assert result.returncode != 0 and expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_the_shipped_example_is_valid_once_its_secret_sources_exist(tmp_path: Path) -> None:
    for name in ("vm-b-token", "vm-local-token"):
        token = tmp_path / ".config/openclaw" / name
        token.parent.mkdir(parents=True, exist_ok=True)
        token.write_text(f"value-of-{name}\n")
    example = PROJECT_ROOT / "inventories/vm_hosts.example.toml"
    result = run_inventory(
        "inventories/vm_hosts.py", example, "debug-inventory", env={"HOME": str(tmp_path), "OPENCLAW_VM_A_TOKEN": "a"}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # debug-inventory prints each host and its data (on stderr) without connecting.
    assert "[hyper1.example.net]" in result.stderr and "[@local]" in result.stderr
    refused = run_inventory("inventories/vm_hosts.py", example, "debug-inventory", env={"HOME": str(tmp_path)})
    assert (
        "openclaw_vm_host.vms[0].gateway (VM 'openclaw-a'): openclaw_secrets.OPENCLAW_GATEWAY_TOKEN" in refused.stderr
    )


def test_the_inventory_file_gives_a_group_per_vm_host(tmp_path: Path, node: str) -> None:
    hosts_file = write_vm_hosts(
        tmp_path / "vm_hosts.toml",
        {"@local": vm_host("libvirt", vm("vm-with-address"), vm("vm-off"), libvirt_uri=node)},
    )
    result = run_inventory("inventories/vms.py", hosts_file, "debug-inventory")
    assert result.returncode == 0, result.stderr
    assert "[vm-with-address]" in result.stderr and "--> Groups: @local, vms" in result.stderr
    assert '"ssh_hostname": "192.168.122.10"' in result.stderr
    assert f"VM 'vm-off' on @local is declared but stopped (virsh says 'shut off'): {FIX} start it." in result.stderr


# The jump's SSH config.


def test_the_jump_config_is_private_and_names_the_vm_host_as_pyinfra_reads_it(tmp_path: Path) -> None:
    directory = tmp_path / "vm-ssh"
    data = {
        "ssh_hostname": "hyper1.example.net",
        "ssh_user": "admin",
        "ssh_port": 2222,
        "ssh_key": "~/.ssh/id_ed25519",
        "ssh_known_hosts_file": "/etc/openclaw/known_hosts",
    }
    path = write_jump_config(directory, "hyper1", data, ["192.168.122.10", "192.168.122.11"])

    assert stat.S_IMODE(directory.stat().st_mode) == 0o700 and directory.stat().st_uid == os.geteuid()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.stat().st_uid == os.geteuid()
    config = SSHConfig()
    config.parse(io.StringIO(path.read_text()))
    assert config.lookup("192.168.122.11")["proxyjump"] == JUMP_ALIAS
    assert "proxyjump" not in config.lookup("192.168.122.12")
    # The hop as pyinfra's client derives it from the ProxyJump name, then connects with this config.
    hop_name, hop = SSHClient.derive_shorthand(config, JUMP_ALIAS)
    assert (hop_name, hop["port"], hop["username"]) == (JUMP_ALIAS, "2222", "admin")
    jump = config.lookup(JUMP_ALIAS)
    assert jump["hostname"] == "hyper1.example.net"
    assert jump["identityfile"] == [os.path.expanduser("~/.ssh/id_ed25519")]
    assert jump["userknownhostsfile"] == "/etc/openclaw/known_hosts"
    assert jump["stricthostkeychecking"] == "accept-new"

    # The same VMs: the same file. Other addresses: a new file (pyinfra keeps a config it read, by name).
    assert write_jump_config(directory, "hyper1", data, ["192.168.122.11", "192.168.122.10"]) == path
    assert write_jump_config(directory, "hyper1", data, ["192.168.122.12"]) != path


def test_a_jump_config_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "vm-ssh"
    directory.mkdir(mode=0o755)
    os.chown(directory, 65534, 65534)
    with pytest.raises(SettingsError, match="is not a directory of this user"):
        write_jump_config(directory, "hyper1", {}, ["192.0.2.1"])
    os.chown(directory, os.geteuid(), os.getegid())
    write_jump_config(directory, "hyper1", {}, ["192.0.2.1"])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
