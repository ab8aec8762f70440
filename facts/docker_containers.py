"""Docker images and containers as the gateway's deploy and drift checks compare them: what a container runs and
how, never its environment's values (a container someone else started may hold secrets there)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import meaningful_lines, unreadable
from .records import JsonRecord

# What `docker … inspect` prints when there is no such object: an answer, not a failure. Docker not installed yet
# prints the same (the engine's operation installs it before anything reads these at execution time).
ABSENT = "absent"


def _inspect_command(kind: str, template: str, name: str) -> StringCommand:
    # Only "No such …" means absent: a daemon that does not answer fails `docker info`, and so the fact.
    return StringCommand(
        "if ! command -v docker >/dev/null; then echo", ABSENT,
        "; elif docker", kind, "inspect", quoted(name), ">/dev/null 2>&1; then docker", kind, "inspect --format",
        quoted(template), quoted(name), "; else docker info >/dev/null && echo", ABSENT, "; fi",
    )  # fmt: skip


def _one_json_object(tool: str, output: list[str], keys: tuple[str, ...]) -> dict[str, Any] | None:
    lines = meaningful_lines(output)
    if lines == [ABSENT]:
        return None
    if len(lines) != 1:
        raise unreadable(tool, "\\n".join(lines)[:200], "expected one JSON object or 'absent'")
    try:
        row = json.loads(lines[0])
    except ValueError as error:
        raise unreadable(tool, lines[0][:200], f"not JSON: {error}") from None
    if not isinstance(row, dict) or not set(keys) <= set(row):
        raise unreadable(tool, lines[0][:200], f"expected a JSON object with {', '.join(keys)}")
    return row


@dataclasses.dataclass(frozen=True)
class DockerImageRecord(JsonRecord):
    id: str
    labels: dict[str, str]


IMAGE_TEMPLATE = '{"id":{{json .Id}},"labels":{{json .Config.Labels}}}'


class DockerImage(FactBase[DockerImageRecord | None]):
    """
    The local image ``reference`` names (``name:tag`` or ``name@sha256:…``): its ID and labels; ``None`` when
    there is no such image (or no Docker yet).

    Runs ``docker image inspect --format '<IMAGE_TEMPLATE>' <reference>`` once the image is known to exist.

    .. code:: python

        {"id": "sha256:8e1a…", "labels": {"org.pyinfra-openclaw.build": "3f0c…"}}
    """

    @override
    def command(self, reference: str) -> StringCommand:
        return _inspect_command("image", IMAGE_TEMPLATE, reference)

    @override
    def process(self, output: list[str]) -> DockerImageRecord | None:
        row = _one_json_object("docker image inspect", output, ("id", "labels"))
        if row is None:
            return None
        return DockerImageRecord(id=str(row["id"]), labels=dict(row["labels"] or {}))


@dataclasses.dataclass(frozen=True)
class DockerContainerRecord(JsonRecord):
    """What a container runs and how: ``docker container inspect``'s fields, named after them (see
    ``CONTAINER_TEMPLATE``). ``env_names``: the names in its environment, never the values."""

    id: str
    image: str
    status: str
    pid: int
    restart_policy: str
    ports: dict[str, Any]
    mounts: list[dict[str, Any]]
    binds: list[str]
    privileged: bool
    cap_add: list[str]
    cap_drop: list[str]
    security_opt: list[str]
    read_only: bool
    network_mode: str
    pid_mode: str
    ipc_mode: str
    userns_mode: str
    init: bool
    devices: list[Any]
    tmpfs: dict[str, str]
    log_config: dict[str, Any]
    stop_timeout: int | None
    user: str
    entrypoint: list[str]
    cmd: list[str]
    labels: dict[str, str]
    env_names: list[str]


# Docker's Go template: one JSON object, the environment reduced to its names (`split` is one of Docker's own
# template functions). Docker runs it on the inspect JSON as a map, where a key Docker omits when empty is missing
# (`.HostConfig.Init` then fails): those are read with `index`, which gives null.
CONTAINER_TEMPLATE = (
    '{"id":{{json .Id}},"image":{{json .Image}},"status":{{json .State.Status}},"pid":{{json .State.Pid}},'
    '"restart_policy":{{json .HostConfig.RestartPolicy.Name}},"ports":{{json .HostConfig.PortBindings}},'
    '"mounts":{{json (index .HostConfig "Mounts")}},"binds":{{json .HostConfig.Binds}},'
    '"privileged":{{json .HostConfig.Privileged}},"cap_add":{{json .HostConfig.CapAdd}},'
    '"cap_drop":{{json .HostConfig.CapDrop}},"security_opt":{{json .HostConfig.SecurityOpt}},'
    '"read_only":{{json .HostConfig.ReadonlyRootfs}},"network_mode":{{json .HostConfig.NetworkMode}},'
    '"pid_mode":{{json .HostConfig.PidMode}},"ipc_mode":{{json .HostConfig.IpcMode}},'
    '"userns_mode":{{json .HostConfig.UsernsMode}},"init":{{json (index .HostConfig "Init")}},'
    '"devices":{{json .HostConfig.Devices}},"tmpfs":{{json (index .HostConfig "Tmpfs")}},'
    '"log_config":{{json .HostConfig.LogConfig}},"stop_timeout":{{json (index .Config "StopTimeout")}},'
    '"user":{{json .Config.User}},"entrypoint":{{json .Config.Entrypoint}},"cmd":{{json .Config.Cmd}},'
    '"labels":{{json .Config.Labels}},'
    '"env_names":[{{range $i, $e := .Config.Env}}{{if $i}},{{end}}{{json (index (split $e "=") 0)}}{{end}}]}'
)
CONTAINER_KEYS = tuple(field.name for field in dataclasses.fields(DockerContainerRecord))


class DockerContainer(FactBase[DockerContainerRecord | None]):
    """
    The container named ``container``, as ``docker container inspect`` shows it (running or not); ``None`` when there is
    no such container (or no Docker yet).

    Runs ``docker container inspect --format '<CONTAINER_TEMPLATE>' <container>`` once it is known to exist.

    .. code:: python

        {"id": "7a37…", "image": "sha256:8e1a…", "status": "running", "restart_policy": "unless-stopped",
         "ports": {"18789/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18789"}]}, "cap_drop": ["ALL"], …}
    """

    @override
    def command(self, container: str) -> StringCommand:
        return _inspect_command("container", CONTAINER_TEMPLATE, container)

    @override
    def process(self, output: list[str]) -> DockerContainerRecord | None:
        row = _one_json_object("docker container inspect", output, CONTAINER_KEYS)
        if row is None:
            return None
        # Docker prints null for an empty list or map.
        empty: dict[str, Any] = {"ports": {}, "mounts": [], "binds": [], "cap_add": [], "cap_drop": [],
                                 "security_opt": [], "devices": [], "tmpfs": {}, "entrypoint": [], "cmd": [],
                                 "labels": {}, "log_config": {}, "init": False}  # fmt: skip
        values: dict[str, Any] = {key: empty.get(key) if row[key] is None else row[key] for key in CONTAINER_KEYS}
        return DockerContainerRecord(**values)
