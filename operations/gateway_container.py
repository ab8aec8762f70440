"""The guide's Docker containerized gateway: its image (built on the host, or pulled by digest) and one container
per gateway, published on the host's loopback only, restarted by Docker on failure and at boot.

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
from importlib import resources
from typing import Any

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationError, OperationValueError
from pyinfra.api.operation import OperationMeta, operation
from pyinfra.context import host

from openclaw_infra.facts.accounts import PasswdEntry
from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.docker_containers import DockerContainer, DockerContainerRecord, DockerImage
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.operations.private_upload import private_upload
from openclaw_infra.quoting import quoted
from openclaw_infra.rendering import render
from openclaw_infra.settings import Gateway, Settings

LABEL_PREFIX = "org.pyinfra-openclaw"
BUILD_LABEL = f"{LABEL_PREFIX}.build"
SPEC_LABEL = f"{LABEL_PREFIX}.spec"
GATEWAY_LABEL = f"{LABEL_PREFIX}.gateway"
BASE_IMAGE = "openclaw-infra/debian:bookworm"
BASE_SUITE = "bookworm"
BUILT_IMAGE = "openclaw-infra/gateway"
# Root-only: the build context holds copies of the installed Node and OpenClaw, the base a whole root file system.
BUILD_DIR = "/var/lib/openclaw-infra/image-build"
ENTRYPOINT = "/usr/local/lib/openclaw-infra/entrypoint.mjs"
ENTRYPOINT_SOURCE = resources.files("openclaw_infra.templates") / "container" / "entrypoint.mjs"
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


def dockerfile_content(node_prefix: str, openclaw_prefix: str) -> str:
    return render(
        "container/Dockerfile.j2",
        base_image=BASE_IMAGE,
        node_prefix=node_prefix,
        openclaw_prefix=openclaw_prefix,
        entrypoint=ENTRYPOINT,
    )


def entrypoint_content() -> str:
    return ENTRYPOINT_SOURCE.read_text()


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

    def run_options(self) -> list[str]:
        """``docker run``'s options and arguments after the image, without the spec label (see ``label``)."""
        options = [
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
        arguments = ["--user", f"{self.uid}:{self.gid}", "--secrets", SECRETS_IN_CONTAINER, "--", *self.command]
        return [*options, "@IMAGE@", *arguments]

    @property
    def label(self) -> str:
        """A digest of everything ``docker run`` is given: a container whose label differs was started otherwise."""
        return hashlib.sha256("\0".join([self.image, *self.run_options()]).encode()).hexdigest()[:16]

    def run_command(self) -> StringCommand:
        words = self.run_options()
        at = words.index("@IMAGE@")
        spec = ["--label", f"{SPEC_LABEL}={self.label}"]
        return StringCommand("docker", "run", *map(quoted, [*words[:at], *spec, self.image, *words[at + 1 :]]))

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
            "cmd": self.run_options()[self.run_options().index("@IMAGE@") + 1 :],
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
def debian_base_image(mirror: str) -> Generator[StringCommand, None, None]:
    """
    The gateway image's base, ``openclaw-infra/debian:bookworm``: a minimal Debian 12 made by ``debootstrap`` from
    ``mirror`` and imported into Docker. Made once; kept while it exists.

    + mirror: the Debian mirror debootstrap reads, e.g. ``http://deb.debian.org/debian``
    """
    if host.get_fact(DockerImage, reference=BASE_IMAGE):
        host.noop(f"image {BASE_IMAGE} exists")
        return
    rootfs = posixpath.join(BUILD_DIR, "rootfs")
    yield StringCommand("rm", "-rf", quoted(rootfs), "&&", "mkdir", "-p", "-m", "700", quoted(BUILD_DIR))
    yield StringCommand(
        "debootstrap", "--variant=minbase", "--include=ca-certificates", BASE_SUITE, quoted(rootfs), quoted(mirror),
        ">", quoted(posixpath.join(BUILD_DIR, "debootstrap.log")), "2>&1",
    )  # fmt: skip
    yield StringCommand(
        "tar", "-C", quoted(rootfs), "-c", ".", "|", "docker", "import", "--change",
        quoted(f"LABEL {LABEL_PREFIX}.base={BASE_SUITE}"), "-", quoted(BASE_IMAGE),
    )  # fmt: skip
    yield StringCommand("rm", "-rf", quoted(rootfs))


def build_id(dockerfile: str, entrypoint: str, node_version: str, openclaw_version: str) -> str:
    text = "\0".join([dockerfile, entrypoint, node_version, openclaw_version])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@operation()
def gateway_image(
    reference: str, node_prefix: str, node_version: str, openclaw_prefix: str, openclaw_version: str
) -> Generator[PyinfraCommand, None, None]:
    """
    The gateway's image ``reference``, built on the host from ``templates/container``: the host's pinned Node and
    OpenClaw copied onto the Debian base. Rebuilt when the Dockerfile, the entrypoint or a pinned version changes
    (the image's ``org.pyinfra-openclaw.build`` label says which it was built from); images of other pins are kept.

    + reference: the image's name and tag, e.g. ``openclaw-infra/gateway:2026.9.6-node24.21.0``
    + node_prefix, node_version: the host's installed Node (a symlink to the unpacked release) and its version
    + openclaw_prefix, openclaw_version: the host's installed OpenClaw and its version
    """
    dockerfile = dockerfile_content(node_prefix, openclaw_prefix)
    entrypoint = entrypoint_content()
    wanted = build_id(dockerfile, entrypoint, node_version, openclaw_version)
    present = host.get_fact(DockerImage, reference=reference)
    if present and present.labels.get(BUILD_LABEL) == wanted:
        host.noop(f"image {reference} is built from the current Dockerfile")
        return
    context = posixpath.join(BUILD_DIR, "gateway")
    yield StringCommand(
        "rm", "-rf", quoted(context), "&&", "mkdir", "-p", "-m", "700", quoted(context), "&&",
        # `<prefix>/.`: the contents, through the prefix's symlink; symlinks inside (npm's bin links) stay links.
        "cp", "-a", quoted(f"{node_prefix}/."), quoted(f"{context}/node"), "&&",
        "cp", "-a", quoted(f"{openclaw_prefix}/."), quoted(f"{context}/openclaw"),
    )  # fmt: skip
    yield from private_upload(dockerfile, posixpath.join(context, "Dockerfile"))
    yield from private_upload(entrypoint, posixpath.join(context, "entrypoint.mjs"))
    yield StringCommand(
        "docker", "build", "--quiet", "--label", quoted(f"{BUILD_LABEL}={wanted}"), "--tag", quoted(reference),
        quoted(context), ">", "/dev/null",
    )  # fmt: skip
    yield StringCommand("rm", "-rf", quoted(context))


@operation()
def registry_image(reference: str) -> Generator[StringCommand, None, None]:
    """
    The user's gateway image, pulled by its digest (``name@sha256:…``) when it is not on the host.

    + reference: the image pinned by digest
    """
    if "@sha256:" not in reference:
        raise OperationValueError(f"image {reference!r} is not pinned by digest (name@sha256:…)")
    if host.get_fact(DockerImage, reference=reference):
        host.noop(f"image {reference} is present")
        return
    yield StringCommand("docker", "pull", "--quiet", quoted(reference), ">", "/dev/null")


def _spec_of(settings: Settings, gateway: Gateway) -> tuple[ContainerSpec, str | None, DockerContainerRecord | None]:
    paths = GatewayPaths(settings, gateway)
    account, image, found = read_facts(
        (PasswdEntry, {"user": paths.user}),
        (DockerImage, {"reference": image_reference(settings)}),
        (DockerContainer, {"container": paths.container_name}),
    )
    if account is None:
        raise OperationError(f"user {paths.user} does not exist; its service account operation must run first")
    return container_spec(settings, gateway, account.uid, account.gid), (image.id if image else None), found


@operation()
def gateway_container(settings: Settings, gateway: Gateway) -> Generator[StringCommand, None, None]:
    """
    ``gateway``'s container, running as ``ContainerSpec`` says: created when missing, replaced (stopped, removed,
    run again) when anything differs from the spec, started when stopped. Its state lives in the host's state dir,
    so replacing the container loses nothing.

    + settings: the host's settings
    + gateway: the gateway the container runs
    """
    spec, image_id, found = _spec_of(settings, gateway)
    if image_id is None:
        raise OperationError(f"image {spec.image} is not on the host; its image operation must run first")
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
