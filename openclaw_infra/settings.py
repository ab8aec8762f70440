"""One settings model for every deploy, with every default in one place.

Each top-level field is read from the pyinfra host data key ``openclaw_<field>`` (so group data gives defaults
and host data overrides them field by field). Secrets are never values in the inventory: the inventory names
where the control machine reads each one (an environment variable, a file, or a command's stdout).
"""

from __future__ import annotations

import itertools
import re
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from openclaw_infra.versions import (
    DEFAULT_NODE_VERSION,
    DEFAULT_OPENCLAW_VERSION,
    OPENCLAW_NODE_ENGINES,
    EngineRangeError,
    node_satisfies,
    parse_version,
)

DATA_PREFIX = "openclaw_"

# The guide's spacing rule: each gateway owns port+2 (browser control) and port+11..port+110 (CDP), and
# the guide asks for >= 20 between gateways so the ranges the browser tool picks from do not collide.
MIN_GATEWAY_PORT_SPACING = 20
BROWSER_PORT_OFFSET = 2
CDP_PORT_FIRST_OFFSET = 11
CDP_PORT_LAST_OFFSET = 110
MIN_PORT = 1024
MAX_PORT = 65535

# Safe for a POSIX user name, a systemd unit suffix, a launchd label part and a directory suffix alike.
SAFE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
SECRET_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

Isolation = Literal["docker-containerized", "docker-isolation", "macos-vm", "linux-vm"]
OsFamily = Literal["linux", "macos"]
Bind = Literal["loopback", "lan", "auto", "custom", "tailnet"]
AuthMode = Literal["token", "password", "none"]
NodeInstallMethod = Literal["tarball", "nodesource", "preinstalled"]

# openclaw.json keys under "gateway" that come from the Gateway fields; extra_config may not override them.
MANAGED_GATEWAY_KEYS = frozenset({"mode", "bind", "port", "auth"})

AUTH_SECRET = {"token": "OPENCLAW_GATEWAY_TOKEN", "password": "OPENCLAW_GATEWAY_PASSWORD"}


def _fail(message: str, fix: str) -> PydanticCustomError:
    return PydanticCustomError("openclaw_settings", "{message} Fix: {fix}", {"message": message, "fix": fix})


def _check_safe_name(value: str | None, what: str) -> str | None:
    if value is not None and not SAFE_NAME.match(value):
        raise _fail(
            f"{what} {value!r} is not a safe identifier.",
            "use 1-31 characters: a lowercase letter first, then lowercase letters, digits, '-' or '_'.",
        )
    return value


class _Model(BaseModel):
    # Unknown keys are typos; refusing them is the only way an operator learns a setting had no effect.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretSource(_Model):
    """Where the control machine reads one secret. Exactly one of ``env``, ``file`` or ``command``."""

    env: str | None = None
    file: str | None = None
    command: list[str] | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> SecretSource:
        given = [key for key in ("env", "file", "command") if getattr(self, key)]
        if len(given) != 1:
            raise _fail(
                f"a secret source needs exactly one of env, file, command (got {given or 'none'}).",
                'write e.g. {"env": "OPENCLAW_GATEWAY_TOKEN"}, {"file": "~/.secrets/token"} or '
                '{"command": ["pass", "show", "openclaw/token"]}.',
            )
        return self

    def describe(self) -> str:
        if self.env:
            return f"environment variable {self.env}"
        if self.file:
            return f"file {self.file}"
        return f"command {self.command}"


SecretMap = dict[str, SecretSource]


def _check_secret_names(secrets: SecretMap) -> SecretMap:
    for secret_name in secrets:
        if not SECRET_NAME.match(secret_name):
            raise _fail(
                f"secret name {secret_name!r} is not an environment variable name.",
                "use upper-case letters, digits and '_' (e.g. ANTHROPIC_API_KEY).",
            )
    return secrets


class NodeRuntime(_Model):
    version: str = DEFAULT_NODE_VERSION
    install_method: NodeInstallMethod = "tarball"
    # nodejs.org layout: <base>/v<version>/node-v<version>-linux-x64.tar.xz and SHASUMS256.txt beside it.
    tarball_base_url: str = "https://nodejs.org/dist"
    prefix: str = "/opt/node"

    @field_validator("version")
    @classmethod
    def _version_is_exact(cls, value: str) -> str:
        try:
            parse_version(value)
        except ValueError:
            raise _fail(
                f"Node version {value!r} is not a version.", 'pin an exact version such as "24.21.0".'
            ) from None
        if value.count(".") != 2:
            raise _fail(f"Node version {value!r} is not exact.", 'pin major.minor.patch such as "24.21.0".')
        return value


class OpenClawPackage(_Model):
    version: str = DEFAULT_OPENCLAW_VERSION
    # A fixed global prefix: the binary path in the service unit never depends on npm's configuration.
    prefix: str = "/opt/openclaw"
    # engines.node of `version`; only needed for a release missing from versions.OPENCLAW_NODE_ENGINES.
    node_engines: str | None = None

    @field_validator("version")
    @classmethod
    def _version_is_pinned(cls, value: str) -> str:
        if value in {"latest", "next", ""} or not re.match(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$", value):
            raise _fail(f"OpenClaw version {value!r} is not a pinned version.", 'pin one such as "2026.9.6".')
        return value

    def engines_range(self) -> str | None:
        return self.node_engines or OPENCLAW_NODE_ENGINES.get(self.version)


class Gateway(_Model):
    """One gateway process: its own state dir, port range, service and secrets."""

    profile: str | None = None
    # None means the host's service_user (the profiles approach); a name gives the multi-user approach.
    user: str | None = None
    port: int = 18789
    bind: Bind = "loopback"
    auth_mode: AuthMode = "token"
    # Merged over the host-level secrets; per-gateway keys win.
    secrets: SecretMap = Field(default_factory=dict)
    # Further openclaw.json keys (channels, agents, tools), deep-merged over the managed ones. No secrets here:
    # reference them as "${VAR}" and add VAR to the secrets.
    extra_config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("profile", "user")
    @classmethod
    def _names_are_safe(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _check_safe_name(value, str(info.field_name))

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: SecretMap) -> SecretMap:
        return _check_secret_names(value)

    @field_validator("port")
    @classmethod
    def _port_in_range(cls, value: int) -> int:
        if not MIN_PORT <= value <= MAX_PORT:
            raise _fail(
                f"port {value} is outside {MIN_PORT}-{MAX_PORT}.",
                "pick an unprivileged port such as 18789.",
            )
        if value + CDP_PORT_LAST_OFFSET > MAX_PORT:
            raise _fail(
                f"port {value} leaves no room for its CDP range (port+{CDP_PORT_FIRST_OFFSET}"
                f"..port+{CDP_PORT_LAST_OFFSET}).",
                f"pick a port at most {MAX_PORT - CDP_PORT_LAST_OFFSET}.",
            )
        return value

    @field_validator("extra_config")
    @classmethod
    def _extra_leaves_managed_keys_alone(cls, value: dict[str, Any]) -> dict[str, Any]:
        gateway_extra = value.get("gateway")
        managed = sorted(set(gateway_extra) & MANAGED_GATEWAY_KEYS) if isinstance(gateway_extra, dict) else []
        if managed:
            raise _fail(
                f"extra_config sets gateway.{', gateway.'.join(managed)}, which the deploy manages.",
                "use the gateway's own port, bind and auth_mode fields instead.",
            )
        return value

    @model_validator(mode="after")
    def _exposed_needs_auth(self) -> Gateway:
        if self.bind != "loopback" and self.auth_mode == "none":
            raise _fail(
                f"bind {self.bind!r} exposes the gateway beyond loopback with auth_mode 'none'.",
                "set auth_mode to 'token' (and provide OPENCLAW_GATEWAY_TOKEN) or bind to 'loopback'.",
            )
        return self

    @property
    def browser_port(self) -> int:
        return self.port + BROWSER_PORT_OFFSET

    @property
    def cdp_ports(self) -> range:
        return range(self.port + CDP_PORT_FIRST_OFFSET, self.port + CDP_PORT_LAST_OFFSET + 1)

    @property
    def state_dir_name(self) -> str:
        return f".openclaw-{self.profile}" if self.profile else ".openclaw"

    @property
    def service_name(self) -> str:
        """systemd unit name (without .service) and the suffix of the launchd label."""
        return f"openclaw-gateway-{self.profile}" if self.profile else "openclaw-gateway"

    @property
    def secrets_file_name(self) -> str:
        return f"secrets-{self.profile}.env" if self.profile else "secrets.env"

    @property
    def launchd_label(self) -> str:
        return f"ai.openclaw.{self.profile}" if self.profile else "ai.openclaw.gateway"

    def label(self) -> str:
        """How error messages name this gateway."""
        return f"profile {self.profile!r} (port {self.port})" if self.profile else f"default (port {self.port})"


class Firewall(_Model):
    enabled: bool = True
    # Source networks allowed to reach the gateway port; empty means nobody from outside.
    gateway_allowed_sources: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    # None: the port pyinfra is connected on, so enabling the firewall never cuts the deploy's own access.
    ssh_port: int | None = None

    @field_validator("gateway_allowed_sources", mode="before")
    @classmethod
    def _parse_networks(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        parsed = []
        for source in value:
            try:
                parsed.append(ip_network(str(source), strict=False))
            except ValueError:
                raise _fail(
                    f"{source!r} is not an IP address or network.", 'write e.g. "192.0.2.10" or "100.64.0.0/10".'
                ) from None
        return parsed


class LogRotation(_Model):
    enabled: bool = True
    frequency: Literal["daily", "weekly", "monthly"] = "daily"
    keep: Annotated[int, Field(ge=1, le=365)] = 14
    max_size: str = "50M"
    compress: bool = True

    @field_validator("max_size")
    @classmethod
    def _size_is_logrotate_size(cls, value: str) -> str:
        if not re.match(r"^\d+[kMG]?$", value):
            raise _fail(f"max_size {value!r} is not a logrotate size.", 'write e.g. "50M", "500k" or "1G".')
        return value


class TranscriptPruning(_Model):
    enabled: bool = True
    prune_after_days: Annotated[int, Field(ge=1, le=3650)] = 30
    max_entries: Annotated[int, Field(ge=1)] = 500
    # cron schedule of `openclaw sessions cleanup --enforce` and the archived-transcript sweep.
    schedule: str = "0 4 * * *"

    @field_validator("schedule")
    @classmethod
    def _five_cron_fields(cls, value: str) -> str:
        if len(value.split()) != 5 or not re.match(r"^[0-9*/,\- ]+$", value):
            raise _fail(f"schedule {value!r} is not a five-field cron schedule.", 'write e.g. "0 4 * * *".')
        return value


class DriftSchedule(_Model):
    """When and how a control host runs ``openclaw-infra drift`` on its own, and where it keeps the reports."""

    # The job's command line (run from working_dir); it gets --json appended and its stdout becomes the report.
    command: list[str] = Field(
        default_factory=lambda: ["openclaw-infra", "drift", "inventories/hosts.py", "deploys/linux_vm.py"],
        min_length=2,
    )
    # Where the inventory and deploys the command names live.
    working_dir: str = "/opt/openclaw-infra"
    # Who runs it: needs the SSH keys for the hosts and read access to the secret sources.
    user: str = "root"
    report_dir: str = "/var/lib/openclaw-infra/drift"
    keep_reports: Annotated[int, Field(ge=1, le=10000)] = 48
    # One schedule, rendered for systemd (OnCalendar), launchd (StartCalendarInterval) and cron: at `minute`
    # past every hour, or past `hour` once a day.
    minute: Annotated[int, Field(ge=0, le=59)] = 0
    hour: Annotated[int, Field(ge=0, le=23)] | None = None

    @field_validator("user")
    @classmethod
    def _user_is_safe(cls, value: str) -> str | None:
        return _check_safe_name(value, "drift_schedule.user")

    @field_validator("working_dir", "report_dir")
    @classmethod
    def _absolute(cls, value: str, info: ValidationInfo) -> str:
        if not PurePosixPath(value).is_absolute():
            raise _fail(f"{info.field_name} {value!r} is not an absolute path.", 'write e.g. "/opt/openclaw-infra".')
        return value

    def on_calendar(self) -> str:
        """systemd.time(7) OnCalendar= value."""
        hour = "*" if self.hour is None else f"{self.hour:02d}"
        return f"*-*-* {hour}:{self.minute:02d}:00"

    def cron_fields(self) -> str:
        return f"{self.minute} {'*' if self.hour is None else self.hour} * * *"

    def launchd_interval(self) -> dict[str, int]:
        """launchd.plist(5) StartCalendarInterval."""
        return {"Minute": self.minute} if self.hour is None else {"Hour": self.hour, "Minute": self.minute}


class Settings(_Model):
    """Everything a deploy needs to know about one host."""

    isolation: Isolation = "docker-isolation"
    os_family: OsFamily = "linux"
    service_user: str = "openclaw"
    # None: /home/<user> on Linux, /Users/<user> on macOS.
    service_home: str | None = None
    # Per-agent Docker sandboxing; puts the service user in the docker group.
    docker_sandbox: bool = True
    node: NodeRuntime = Field(default_factory=NodeRuntime)
    openclaw: OpenClawPackage = Field(default_factory=OpenClawPackage)
    # Secrets every gateway on the host gets (a gateway's own `secrets` override these by name).
    secrets: SecretMap = Field(default_factory=dict)
    gateways: list[Gateway] = Field(default_factory=lambda: [Gateway()], min_length=1)
    firewall: Firewall = Field(default_factory=Firewall)
    log_rotation: LogRotation = Field(default_factory=LogRotation)
    transcript_pruning: TranscriptPruning = Field(default_factory=TranscriptPruning)
    # Write /home/<user>/.openclaw/.env for ad-hoc CLI use (the guide's convenience copy); off by default.
    cli_secrets_copy: bool = False
    # Only read on the control host that schedules drift checks (deploys/drift_schedule.py).
    drift_schedule: DriftSchedule = Field(default_factory=DriftSchedule)

    @field_validator("service_user")
    @classmethod
    def _user_is_safe(cls, value: str) -> str | None:
        return _check_safe_name(value, "service_user")

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: SecretMap) -> SecretMap:
        return _check_secret_names(value)

    @field_validator("service_home")
    @classmethod
    def _home_is_absolute(cls, value: str | None) -> str | None:
        if value is not None and not PurePosixPath(value).is_absolute():
            raise _fail(f"service_home {value!r} is not an absolute path.", 'write e.g. "/home/openclaw".')
        return value

    @model_validator(mode="after")
    def _node_accepted_by_openclaw(self) -> Settings:
        engines = self.openclaw.engines_range()
        if engines is None:
            raise _fail(
                f"OpenClaw {self.openclaw.version} is not one this project knows the Node range of.",
                "set openclaw.node_engines to its `npm view openclaw@<version> engines.node`, "
                f"or pin one of {sorted(OPENCLAW_NODE_ENGINES)}.",
            )
        try:
            accepted = node_satisfies(self.node.version, engines)
        except EngineRangeError as error:
            raise _fail(
                f"openclaw.node_engines {engines!r} cannot be read ({error}).", "write e.g. '>=24.16.0 <25'."
            ) from None
        if not accepted:
            raise _fail(
                f"Node {self.node.version} is not accepted by OpenClaw {self.openclaw.version} "
                f"(engines.node {engines!r}).",
                "pin node.version inside that range, e.g. 24.21.0.",
            )
        return self

    @model_validator(mode="after")
    def _gateways_do_not_collide(self) -> Settings:
        seen_profiles: dict[str | None, Gateway] = {}
        for gateway in self.gateways:
            if gateway.profile in seen_profiles:
                raise _fail(
                    f"two gateways share profile {gateway.profile!r}.",
                    "give each gateway on a host its own profile name (one may have none).",
                )
            seen_profiles[gateway.profile] = gateway
        ordered = sorted(self.gateways, key=lambda gateway: gateway.port)
        for lower, upper in itertools.pairwise(ordered):
            if upper.port - lower.port < MIN_GATEWAY_PORT_SPACING:
                raise _fail(
                    f"gateways {lower.label()} and {upper.label()} are {upper.port - lower.port} ports apart; "
                    f"each needs port+{CDP_PORT_FIRST_OFFSET}..port+{CDP_PORT_LAST_OFFSET} nearby, so the guide "
                    f"asks for at least {MIN_GATEWAY_PORT_SPACING}.",
                    f"move {upper.label()} to port {lower.port + MIN_GATEWAY_PORT_SPACING} or higher.",
                )
        return self

    @model_validator(mode="after")
    def _auth_secret_named(self) -> Settings:
        for gateway in self.gateways:
            needed = AUTH_SECRET.get(gateway.auth_mode)
            if needed and needed not in self.secrets_for(gateway):
                raise _fail(
                    f"gateway {gateway.label()} uses auth_mode {gateway.auth_mode!r} but no secret {needed} "
                    "is configured.",
                    f'add {needed} to openclaw_secrets, e.g. {{"{needed}": {{"env": "{needed}"}}}}.',
                )
        return self

    # Derived values: computed, never stored, so they cannot disagree with the fields they come from.

    def user_of(self, gateway: Gateway) -> str:
        return gateway.user or self.service_user

    def home_of(self, user: str) -> str:
        if user == self.service_user and self.service_home:
            return self.service_home
        return f"/Users/{user}" if self.os_family == "macos" else f"/home/{user}"

    def state_dir_of(self, gateway: Gateway) -> str:
        return str(PurePosixPath(self.home_of(self.user_of(gateway))) / gateway.state_dir_name)

    def secrets_for(self, gateway: Gateway) -> SecretMap:
        return {**self.secrets, **gateway.secrets}

    @property
    def users(self) -> list[str]:
        """Every OS user a gateway runs as, in gateway order, once each."""
        return list(dict.fromkeys(self.user_of(gateway) for gateway in self.gateways))


def settings_fields() -> list[str]:
    return list(Settings.model_fields)


def data_key(field: str) -> str:
    return f"{DATA_PREFIX}{field}"
