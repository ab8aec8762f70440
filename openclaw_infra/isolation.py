"""Which deploy file implements each isolation model: the one table every deploy consults before it plans.

A host whose ``openclaw_isolation`` / ``openclaw_os_family`` a deploy does not implement is refused before any
host is touched, with the name of the deploy that does (or word that none exists yet), so a macOS host can never
fall through to the Linux systemd deploy and fail half-way at apt.
"""

from __future__ import annotations

from openclaw_infra.settings import Isolation, OsFamily, Settings, data_key

Model = tuple[Isolation, OsFamily]

# None: a model the settings accept and the guide describes, with no deploy in this project yet.
DEPLOY_OF: dict[Model, str | None] = {
    ("docker-isolation", "linux"): "deploys/docker_isolation.py",
    ("linux-vm", "linux"): "deploys/linux_vm.py",
    ("docker-isolation", "macos"): "deploys/macos_host.py",
    ("macos-vm", "macos"): "deploys/macos_host.py",
    ("docker-containerized", "linux"): "deploys/docker_containerized.py",
    ("docker-containerized", "macos"): None,
}
# The OS family a model's gateway runs on, where the model decides it.
OS_FAMILY_OF: dict[Isolation, OsFamily] = {"linux-vm": "linux", "macos-vm": "macos"}


def refusal(settings: Settings, deploy_files: tuple[str, ...]) -> str | None:
    """Why a deploy serving the models of ``deploy_files`` must not run for a host with ``settings`` (with the
    fix), or None when it may. A deploy file names itself; a deploy function shared by several names them all."""
    isolation, os_family = settings.isolation, settings.os_family
    required = OS_FAMILY_OF.get(isolation)
    if required and required != os_family:
        return (
            f"{data_key('isolation')} {isolation!r} runs the gateway on {required}, but {data_key('os_family')} "
            f"is {os_family!r}. Fix: set {data_key('os_family')} to {required!r}."
        )
    implementer = DEPLOY_OF[(isolation, os_family)]
    if implementer in deploy_files:
        return None
    model = f"{data_key('isolation')} {isolation!r} with {data_key('os_family')} {os_family!r}"
    this = " / ".join(deploy_files)
    if implementer is None:
        return f"{model} is not implemented by {this}, and no deploy of this project implements it yet."
    return f"{model} is not what {this} deploys. Fix: run {implementer} for this host."
