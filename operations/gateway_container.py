"""The guide's Docker containerized gateway: one container per gateway (its image: ``docker_images``), published on
the host's loopback only, restarted by Docker on failure and at boot.

``ContainerSpec`` is the one definition of a gateway's container: the ``docker run`` words the deploy uses, and
the view of ``docker container inspect`` the deploy, its verification and the drift checks compare against.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import posixpath
from collections.abc import Callable, Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import OperationMeta, operation
from pyinfra.context import host, state

from openclaw_infra.facts.accounts import PasswdEntry
from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.docker_containers import DockerContainer, DockerContainerRecord, DockerImage
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.operations.docker_images import ENTRYPOINT, LABEL_PREFIX
from openclaw_infra.quoting import quoted
from openclaw_infra.settings import Gateway, Settings

SPEC_LABEL = f"{LABEL_PREFIX}.spec"
GATEWAY_LABEL = f"{LABEL_PREFIX}.gateway"
BUILT_IMAGE = "openclaw-infra/gateway"
SECRETS_IN_CONTAINER = "/run/openclaw/secrets.env"
# OpenClaw writes its own file log and node its compile cache under /tmp; the root file system is read-only.
TMPFS = "/tmp"
TMPFS_OPTIONS = "rw,nosuid,nodev,size=512m"
# The entrypoint reads the root-only secrets file as root (no capability needed to read one's own file), then
# setgroups/setgid/setuid to the gateway's user: those two capabilities, nothing else.
CAPABILITIES = ("SETUID", "SETGID")
RESTART_POLICY = "unless-stopped"
PUBLISHED_ON = "127.0.0.1"


def image_reference(settings: Settings) -> str:
    """The image the gateways run: the user's (by digest), or the one the deploy builds for the pinned versions."""
    return settings.container.image or f"{BUILT_IMAGE}:{settings.openclaw.version}-node{settings.node.version}"


def _mount(source: str, target: str, readonly: bool = False) -> str:
    # --mount takes CSV: a path holding ',' or '"' is one quoted field.
    line = io.StringIO()
    fields = ["type=bind", f"source={source}", f"target={target}", *(["readonly"] if readonly else [])]
    csv.writer(line, lineterminator="").writerow(fields)
    return line.getvalue()


@dataclasses.dataclass(frozen=True)
class ContainerSpec:
    """One gateway's container as the settings make it, given its user's uid and gid on the host."""

    name: str
    image: str
    port: int
    state_dir: str
    secrets_file: str
    uid: int
    gid: int
    environment: tuple[tuple[str, str], ...]
    command: tuple[str, ...]
    entrypoint: tuple[str, ...]
    stop_timeout: int
    log_options: tuple[tuple[str, str], ...]

    def options(self) -> list[str]:
        """``docker run``'s options, but the spec label (``label``)."""
        return [
            # A fixed host name: OpenClaw reclaims its state dir's owner lease from a dead process only on the same
            # host name, and a replaced container would otherwise wait out the lease (5 min) under a new one.
            "--detach", "--name", self.name, "--hostname", self.name, "--init", "--restart", RESTART_POLICY,
            "--cap-drop", "ALL", *(word for cap in CAPABILITIES for word in ("--cap-add", cap)),
            "--security-opt", "no-new-privileges", "--read-only", "--tmpfs", f"{TMPFS}:{TMPFS_OPTIONS}",
            "--publish", f"{PUBLISHED_ON}:{self.port}:{self.port}",
            "--mount", _mount(self.state_dir, self.state_dir),
            "--mount", _mount(self.secrets_file, SECRETS_IN_CONTAINER, readonly=True),
            "--workdir", self.state_dir, "--stop-timeout", str(self.stop_timeout),
            *(word for key, value in self.log_options for word in ("--log-opt", f"{key}={value}")),
            *(word for key, value in self.environment for word in ("--env", f"{key}={value}")),
            "--label", f"{GATEWAY_LABEL}={self.name}",
        ]  # fmt: skip

    def arguments(self) -> list[str]:
        """The entrypoint's arguments (after the image): the gateway's user, where the secrets are, its command."""
        return ["--user", f"{self.uid}:{self.gid}", "--secrets", SECRETS_IN_CONTAINER, "--", *self.command]

    @property
    def label(self) -> str:
        """A digest of everything ``docker run`` is given: a container whose label differs was started otherwise."""
        words = [*self.options(), self.image, *self.arguments()]
        return hashlib.sha256("\0".join(words).encode()).hexdigest()[:16]

    def run_command(self) -> StringCommand:
        words = [*self.options(), "--label", f"{SPEC_LABEL}={self.label}", self.image, *self.arguments()]
        return StringCommand("docker", "run", *map(quoted, words))

    def view(self, image_id: str | None) -> dict[str, Any]:
        """What ``docker container inspect`` shows of a container started by ``run_command`` (``view_of``)."""
        mounts = [
            {"Source": self.state_dir, "Target": self.state_dir, "Type": "bind"},
            {"ReadOnly": True, "Source": self.secrets_file, "Target": SECRETS_IN_CONTAINER, "Type": "bind"},
        ]
        return {
            "image": image_id or "the image, which is missing",
            "status": "running",
            "restart_policy": RESTART_POLICY,
            "ports": {f"{self.port}/tcp": [{"HostIp": PUBLISHED_ON, "HostPort": str(self.port)}]},
            "mounts": sorted(mounts, key=str),
            "binds": [],
            "privileged": False,
            "cap_add": sorted(CAPABILITIES),
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "read_only": True,
            "network_mode": "default",
            "pid_mode": "",
            "ipc_mode": "private",
            "userns_mode": "",
            "init": True,
            "devices": [],
            "tmpfs": {TMPFS: TMPFS_OPTIONS},
            "user": "",
            "entrypoint": list(self.entrypoint),
            "cmd": self.arguments(),
            "env_names": sorted({"PATH", *(key for key, _ in self.environment)}),
            "spec_label": self.label,
        }


def view_of(record: DockerContainerRecord) -> dict[str, Any]:
    """The fields of a found container that ``ContainerSpec.view`` names, in the same form."""
    view = {key: getattr(record, key) for key in VIEW_KEYS}
    view["mounts"] = sorted(record.mounts, key=str)
    view["cap_add"] = sorted(record.cap_add)
    view["env_names"] = sorted(set(record.env_names))
    view["spec_label"] = record.labels.get(SPEC_LABEL, "none")
    return view


VIEW_KEYS = (
    "image", "status", "restart_policy", "ports", "mounts", "binds", "privileged", "cap_add", "cap_drop",
    "security_opt", "read_only", "network_mode", "pid_mode", "ipc_mode", "userns_mode", "init", "devices", "tmpfs",
    "user", "entrypoint", "cmd", "env_names",
)  # fmt: skip


def differences(wanted: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """``key: found (wanted …)`` for each field that differs."""
    return [
        f"{key} {json.dumps(found.get(key))} (wanted {json.dumps(value)})"
        for key, value in wanted.items()
        if found.get(key) != value
    ]


def container_spec(settings: Settings, gateway: Gateway, uid: int, gid: int) -> ContainerSpec:
    """``gateway``'s container: the environment of its systemd unit (the same gateway, in a container)."""
    paths = GatewayPaths(settings, gateway)
    environment = [
        ("HOME", paths.home),
        ("OPENCLAW_HOME", paths.home),
        ("OPENCLAW_STATE_DIR", paths.state_dir),
        ("OPENCLAW_CONFIG_PATH", paths.config),
        ("GIT_CONFIG_GLOBAL", paths.git_config),
        ("OPENCLAW_GATEWAY_PORT", str(gateway.port)),
        *([("OPENCLAW_PROFILE", gateway.profile)] if gateway.profile else []),
        # Docker supervises this gateway: "openclaw doctor --fix" must not install a competing user service.
        ("OPENCLAW_SERVICE_REPAIR_POLICY", "external"),
        ("OPENCLAW_NO_AUTO_UPDATE", "1"),
        ("XDG_CACHE_HOME", f"{TMPFS}/cache"),
    ]
    profile = ["--profile", gateway.profile] if gateway.profile else []
    rotation = settings.log_rotation
    log_options = (
        [("max-size", rotation.max_size.lower()), ("max-file", str(rotation.keep))] if rotation.enabled else []
    )
    return ContainerSpec(
        name=paths.container_name,
        image=image_reference(settings),
        port=gateway.port,
        state_dir=paths.state_dir,
        secrets_file=paths.secrets,
        uid=uid,
        gid=gid,
        environment=tuple(environment),
        command=(paths.openclaw_entry, *profile, "gateway", "--port", str(gateway.port)),
        entrypoint=(posixpath.join(settings.node.prefix, "bin", "node"), ENTRYPOINT),
        stop_timeout=settings.container.stop_timeout_seconds,
        log_options=tuple(log_options),
    )


@operation()
def gateway_container(settings: Settings, gateway: Gateway) -> Generator[StringCommand, None, None]:
    """
    ``gateway``'s container, running as ``ContainerSpec`` says: created when missing, replaced (stopped, removed,
    run again) when anything differs from the spec, started when stopped. Its state lives in the host's state dir,
    so replacing the container loses nothing.

    + settings: the host's settings
    + gateway: the gateway the container runs
    """
    paths = GatewayPaths(settings, gateway)
    account, image, found = read_facts(
        (PasswdEntry, {"user": paths.user}),
        (DockerImage, {"reference": image_reference(settings)}),
        (DockerContainer, {"container": paths.container_name}),
    )
    if account is None or image is None:
        missing = f"user {paths.user}" if account is None else f"image {image_reference(settings)}"
        if state.is_executing:
            raise OperationError(f"{missing} is not on the host; its operation must run first")
        # Planned on a host where this deploy has yet to make them: the container will be run once they exist.
        yield StringCommand("docker", "run", "--name", quoted(paths.container_name), "…")
        return
    spec = container_spec(settings, gateway, account.uid, account.gid)
    image_id = image.id
    if found is None:
        yield spec.run_command()
        return
    wanted, present = spec.view(image_id), view_of(found)
    configured = {key: value for key, value in wanted.items() if key != "status"}
    if differences(configured, present):
        yield StringCommand("docker", "stop", quoted(spec.name), ">", "/dev/null")
        yield StringCommand("docker", "rm", quoted(spec.name), ">", "/dev/null")
        yield spec.run_command()
    elif found.status != "running":
        yield StringCommand("docker", "start", quoted(spec.name), ">", "/dev/null")
    else:
        host.noop(f"container {spec.name} runs as deployed")


@operation()
def container_restarted(container: str) -> Generator[StringCommand, None, None]:
    """
    Restart ``container`` (its gateway drains first): for a config or secrets change, run under ``_if``.

    + container: the container's name
    """
    yield StringCommand("docker", "restart", quoted(container), ">", "/dev/null")


def restart_unless_replaced(changed: list[OperationMeta], container: OperationMeta) -> Callable[[], bool]:
    """For ``_if``: any of ``changed`` changed, and the ``container`` operation did not already start a new one."""
    return lambda: any(meta.did_change() for meta in changed) and not container.did_change()
