"""The shape of a domain definition (what the VM gets from it) is the same in the deploy's rendering and in what a
real libvirtd returns for it, persistent and running, so a second run changes nothing; a hand edit that keeps the
deploy's metadata changes it. On the real captures of tests/fixtures/facts/libvirt_domain.LibvirtDomain/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openclaw_infra.facts.libvirt_domain import INACTIVE_MARK, LIVE_MARK, parsed_definition, shape_sha256
from openclaw_infra.operations.libvirt_vms import domain_definition_content

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures/facts/libvirt_domain.LibvirtDomain"


def captured_definitions(capture: str = "running_as_the_deploy_defined_it") -> tuple[str, str]:
    lines = json.loads((CAPTURES / f"{capture}.json").read_text())["output"]
    inactive, live = lines.index(INACTIVE_MARK), lines.index(LIVE_MARK)
    return "\n".join(lines[inactive + 1 : live]), "\n".join(lines[live + 1 :])


def rendered(cpus: int = 1, memory_mib: int = 512) -> str:
    # The settings the captured domain was defined from (qemu/TCG, 1 vCPU, 512 MiB, network default).
    content, _ = domain_definition_content("op-vm1", "/var/tmp/op-vmtest/images", "qemu", cpus, memory_mib, "default")
    return content


def test_libvirts_rewriting_keeps_the_shape() -> None:
    inactive, live = captured_definitions()
    assert shape_sha256(parsed_definition(inactive)) == shape_sha256(parsed_definition(rendered()))
    assert shape_sha256(parsed_definition(live), live=True) == shape_sha256(parsed_definition(rendered()), live=True)


BRIDGED_NIC = "<interface type='bridge'><source bridge='br0'/></interface>"
HOST_SHARE = "<filesystem type='mount'><source dir='/'/><target dir='host'/></filesystem>"


def test_libvirts_rewriting_of_a_direct_kernel_boot_keeps_the_shape() -> None:
    # libvirt adds <boot dev='hd'/> beside the kernel; the rendering has none.
    inactive, live = captured_definitions("direct_kernel_boot_running")
    kernel = "/var/lib/openclaw-test/images/vmlinuz"
    initrd = "/var/lib/openclaw-test/images/initrd.img"
    content, _ = domain_definition_content(
        "ocprobe", "/var/lib/openclaw-infra/vms", "qemu", 2, 1536, "default", kernel, initrd,
        "root=/dev/vda rw console=ttyS0",
    )  # fmt: skip
    assert "<boot" not in content
    assert shape_sha256(parsed_definition(inactive)) == shape_sha256(parsed_definition(content))
    assert shape_sha256(parsed_definition(live), live=True) == shape_sha256(parsed_definition(content), live=True)
    other_cmdline = content.replace("console=ttyS0", "console=ttyS0 init=/bin/sh")
    assert shape_sha256(parsed_definition(inactive)) != shape_sha256(parsed_definition(other_cmdline))


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(("  </devices>", f"  {BRIDGED_NIC}</devices>"), id="bridged-nic"),
        pytest.param(("  </devices>", "  <graphics type='vnc' listen='0.0.0.0'/></devices>"), id="vnc"),
        pytest.param(("  </devices>", f"  {HOST_SHARE}</devices>"), id="host-share"),
        pytest.param(("<source network='default'/>", "<source network='lan'/>"), id="other-network"),
        pytest.param(("<memory unit='KiB'>524288</memory>", "<memory unit='KiB'>1048576</memory>"), id="memory"),
        pytest.param(("</domain>", "<seclabel type='none'/></domain>"), id="confinement-off"),
        pytest.param(("<boot dev='hd'/>", "<boot dev='network'/>"), id="boot"),
    ],
)  # fmt: skip
def test_a_hand_edit_that_keeps_the_metadata_changes_the_shape(edit: tuple[str, str]) -> None:
    inactive, _ = captured_definitions()
    old, new = edit
    assert old in inactive
    assert shape_sha256(parsed_definition(inactive.replace(old, new, 1))) != shape_sha256(parsed_definition(inactive))


def test_memory_in_any_unit_is_the_same_size() -> None:
    inactive, _ = captured_definitions()
    in_mib = inactive.replace("<memory unit='KiB'>524288</memory>", "<memory unit='MiB'>512</memory>")
    assert shape_sha256(parsed_definition(in_mib)) == shape_sha256(parsed_definition(inactive))
    assert shape_sha256(parsed_definition(rendered(memory_mib=1024))) != shape_sha256(parsed_definition(inactive))


def test_libvirts_own_dynamic_label_in_a_persistent_definition_is_no_edit() -> None:
    inactive, _ = captured_definitions()
    labelled = inactive.replace("</domain>", "<seclabel type='dynamic' model='apparmor' relabel='yes'/></domain>")
    assert shape_sha256(parsed_definition(labelled)) == shape_sha256(parsed_definition(inactive))
