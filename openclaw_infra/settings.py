"""One settings model for every deploy, with every default in one place.

Each top-level field is read from the pyinfra host data key ``openclaw_<field>`` (so group data gives defaults
and host data overrides them field by field). Secrets are never values in the inventory: the inventory names
where the control machine reads each one (an environment variable, a file, or a command's stdout).
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
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
# Matched with fullmatch: `$` alone would let a trailing newline through.
SAFE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")
SECRET_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
# A name the control machine looks up in its environment (any case).
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# C0 controls (newline, tab, ...), DEL and C1 controls: no quoting survives them in a unit file, a cron line or a
# logrotate stanza, and they hide in logs.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Accounts the OS and its packages own: Debian/Ubuntu's base-passwd and the daemons commonly installed there,
# a few RHEL ones, and macOS's root/daemon/nobody (its other accounts start with '_', which SAFE_NAME refuses).
# Running a gateway as one would make the deploy take it over: its home, shell and groups.
SYSTEM_ACCOUNTS = (
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
    "backup", "list", "irc", "gnats", "nobody", "systemd-network", "systemd-resolve", "systemd-timesync",
    "systemd-coredump", "systemd-journal-remote", "messagebus", "sshd", "syslog", "uuidd", "tss", "polkitd",
    "avahi", "avahi-autoipd", "dnsmasq", "usbmux", "rtkit", "pulse", "colord", "geoclue", "saned", "lightdm",
    "gdm", "kernoops", "whoopsie", "speech-dispatcher", "hplip", "landscape", "pollinate", "tcpdump",
    "fwupd-refresh", "statd", "ntp", "chrony", "postfix", "dovecot", "mysql", "postgres", "redis", "docker",
    "adm", "halt", "shutdown", "operator", "ftp",
)  # fmt: skip

# Trees the OS owns, or that every user may write to: a home at or under one would have the deploy chown and
# chmod 0700 system files, or live where any user can create it first.
SYSTEM_TREES = (
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev", "/proc", "/sys",
    "/run", "/root", "/tmp", "/var/tmp", "/var/run", "/var/lock", "/snap", "/System", "/Library", "/Applications",
    "/private/etc", "/private/tmp", "/private/var/tmp", "/private/var/root",
)  # fmt: skip
# Directories many programs share: fine as the parent of a home, never a home themselves. (Every top-level
# directory is refused by the depth rule, see _own_home.)
SHARED_DIRECTORIES = (
    "/var/lib", "/var/log", "/var/cache", "/var/spool", "/var/mail", "/var/opt", "/var/local", "/var/www",
    "/var/backups", "/private/var", "/Users/Shared", "/opt/homebrew",
)  # fmt: skip

# extra_config keys that hold credentials: the key, lower-cased without '_' and '-', ends with one of these
# (token, botToken, appToken, accessToken, password, clientSecret, signingSecret, webhookSecret, apiKey,
# privateKey, ...). A bare "key" is not one: sort keys and hotkeys are keys too.
SECRET_KEY_SUFFIXES = (
    "token", "password", "passwd", "passphrase", "secret", "apikey", "privatekey", "secretkey", "secretaccesskey",
)  # fmt: skip
# How openclaw.json names an environment variable; OpenClaw substitutes it at start-up.
ENV_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")

Isolation = Literal["docker-containerized", "docker-isolation", "macos-vm", "linux-vm"]
OsFamily = Literal["linux", "macos"]
# How launchd runs a gateway on macOS: a LaunchDaemon in the system domain as the service user (the guide's default,
# no login needed), or a LaunchAgent in that user's GUI domain (the guide's alternative, for GUI frameworks).
MacosService = Literal["launch-daemon", "launch-agent"]
MacosDockerRuntime = Literal["orbstack", "docker-desktop"]
# Settings only macOS hosts read; set on a Linux host they would silently do nothing.
MACOS_ONLY_FIELDS = ("macos_admins", "macos_temporary_sudoers", "macos_vm_admin_password")
Bind = Literal["loopback", "lan", "auto", "custom", "tailnet"]
AuthMode = Literal["token", "password", "none"]
NodeInstallMethod = Literal["tarball", "nodesource", "preinstalled"]

# openclaw.json keys under "gateway" that come from the Gateway fields; extra_config may not override them.
# trustedProxies and allowRealIpFallback decide whose forwarded headers the gateway believes: the proxy settings'.
MANAGED_GATEWAY_KEYS = frozenset({"mode", "bind", "port", "auth", "trustedProxies", "allowRealIpFallback"})

AUTH_SECRET = {"token": "OPENCLAW_GATEWAY_TOKEN", "password": "OPENCLAW_GATEWAY_PASSWORD"}


Location = tuple[int | str, ...]


def _fail(message: str, fix: str, at: Location = ()) -> PydanticCustomError:
    """The error every rule raises. ``at`` is where below the validator's own place the problem sits (a model
    validator names the field it is about), so the message names the exact data key."""
    return PydanticCustomError("openclaw_settings", "{message} Fix: {fix}", {"message": message, "fix": fix, "at": at})


def _name_rule(pattern: re.Pattern[str], what: str, fix: str) -> AfterValidator:
    """A name must match ``pattern`` whole (fullmatch: no trailing newline slips through)."""

    def check(value: str, info: ValidationInfo) -> str:
        if not pattern.fullmatch(value):
            raise _fail(f"{info.field_name} {value!r} is not {what}.", fix)
        return value

    return AfterValidator(check)


def _not_system_account(value: str, info: ValidationInfo) -> str:
    if value in SYSTEM_ACCOUNTS:
        raise _fail(
            f"{info.field_name} {value!r} is a system account; the deploy would take it over (home, shell, groups).",
            'choose a dedicated account name such as "openclaw".',
        )
    return value


def _no_control_characters(value: str, info: ValidationInfo) -> str:
    if CONTROL_CHARACTER.search(value):
        raise _fail(
            f"{info.field_name} {value!r} contains a control character (newline, tab, DEL, ...).",
            "remove it (spaces and quotes are fine).",
        )
    return value


def _absolute_path(value: str, info: ValidationInfo) -> str:
    """Absolute and normalised. Spaces, quotes and ';' are allowed: every consumer quotes paths, and refusing
    them here would only hide a missing quote there. Control characters are refused by the type before this."""
    if not value.startswith("/"):
        raise _fail(f"{info.field_name} {value!r} is not an absolute path.", 'write it from the root, e.g. "/opt/x".')
    # normpath keeps a leading "//" (POSIX leaves its meaning to the system); one "/" is what is meant.
    normal = posixpath.normpath("/" + value.lstrip("/"))
    if value != normal:
        raise _fail(
            f"{info.field_name} {value!r} is not normalised (no '.', '..', '//' or trailing '/').",
            f"write {normal!r}.",
        )
    return value


def _within(path: str, tree: str) -> bool:
    """``path`` is ``tree`` or inside it (both normalised)."""
    return path == tree or path.startswith(tree.rstrip("/") + "/")


def _own_home(value: str) -> str:
    """A home must be the service user's own directory, never one the system or other users share.

    The deploy makes the home 0700 and owned by the service user, so a shared directory would be taken from
    everyone else. Every top-level directory (``/``, ``/home``, ``/opt``, ``/srv``, ``/var``, ``/Users``...) is
    shared, hence the depth rule: at least two levels (``/home/openclaw``, ``/srv/openclaw``,
    ``/var/lib/openclaw``). Deeper is fine except in or under a tree the OS owns or anyone can write to
    (SYSTEM_TREES), or exactly a directory many programs share (SHARED_DIRECTORIES).
    """
    fix = 'use a directory of its own, at least two levels deep: e.g. "/home/openclaw" or "/var/lib/openclaw".'
    if len(PurePosixPath(value).parts) < 3:
        raise _fail(f"service_home {value!r} is a top-level directory, shared by the whole system.", fix)
    tree = next((tree for tree in SYSTEM_TREES if _within(value, tree)), None)
    if tree:
        raise _fail(
            f"service_home {value!r} is in {tree}, which the operating system owns or every user can write to.", fix
        )
    if value in SHARED_DIRECTORIES:
        raise _fail(f"service_home {value!r} is a directory many programs share.", fix)
    return value


def _http_url(value: str, info: ValidationInfo) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(char.isspace() for char in value):
        raise _fail(
            f"{info.field_name} {value!r} is not an http(s) URL without spaces.",
            'write e.g. "https://nodejs.org/dist".',
        )
    return value


def _secret_file(value: str, info: ValidationInfo) -> str:
    # Read on the control machine: '~' is expanded there; a relative path would depend on where pyinfra runs.
    if not value.startswith(("/", "~")):
        raise _fail(f"{info.field_name} {value!r} is not an absolute path.", 'write e.g. "~/.secrets/openclaw-token".')
    return value


# The annotated types every field of their kind uses, so one rule covers them all.
Text = Annotated[str, AfterValidator(_no_control_characters)]
SafeName = Annotated[
    str,
    _name_rule(
        SAFE_NAME,
        "a safe identifier",
        "use 1-31 characters: a lowercase letter first, then lowercase letters, digits, '-' or '_'.",
    ),
]
ServiceUser = Annotated[SafeName, AfterValidator(_not_system_account)]
# A file in /etc/sudoers.d as sudo reads it: sudo skips names holding '.' or ending in '~', so such a file grants
# nothing and is no file to remove; no '/' either (only that directory).
SudoersFileName = Annotated[
    str,
    _name_rule(
        re.compile(r"[A-Za-z0-9_-]{1,64}"),
        "a file name in /etc/sudoers.d",
        "give the file's name alone (letters, digits, '-' or '_'), e.g. \"setup-nopasswd\".",
    ),
]


def _characters_refused(refused: str, reader: str) -> AfterValidator:
    """A path whose consumer (``reader``) cannot be given some characters in any quoting (quoting.py raises on
    them too, as a last line of defence): refused here, naming the field, before any host is touched."""

    def check(value: str, info: ValidationInfo) -> str:
        found = sorted({character for character in value if character in refused})
        if found:
            raise _fail(
                f"{info.field_name} {value!r} holds {' '.join(repr(character) for character in found)}, which "
                f"{reader} cannot read in a path.",
                "choose a path without them (spaces, ';' and the other quotes are fine).",
            )
        return value

    return AfterValidator(check)


AbsolutePath = Annotated[Text, AfterValidator(_absolute_path)]
# The gateway's logs live under the home, and logrotate ends a file list at '{' even inside quotes.
ServiceHome = Annotated[
    AbsolutePath, AfterValidator(_own_home), _characters_refused("{}", "logrotate (the gateway's log rotation)")
]
# <prefix>/bin/node is the unit's ExecStart= program, where systemd refuses quotes and backslashes.
ExecutablePrefix = Annotated[AbsolutePath, _characters_refused("'\"\\", "systemd (ExecStart=, the gateway's program)")]
HttpUrl = Annotated[Text, AfterValidator(_http_url)]
SecretFilePath = Annotated[Text, AfterValidator(_secret_file)]
EnvName = Annotated[
    str, _name_rule(ENV_NAME, "an environment variable name", "use letters, digits and '_' (e.g. OPENCLAW_TOKEN).")
]


class _Model(BaseModel):
    # Unknown keys are typos; refusing them is the only way an operator learns a setting had no effect.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretSource(_Model):
    """Where the control machine reads one secret. Exactly one of ``env``, ``file`` or ``command``."""

    env: EnvName | None = None
    file: SecretFilePath | None = None
    command: list[Text] | None = None

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
        if not SECRET_NAME.fullmatch(secret_name):
            raise _fail(
                f"secret name {secret_name!r} is not an environment variable name.",
                "use upper-case letters, digits and '_' (e.g. ANTHROPIC_API_KEY).",
            )
    return secrets


class NodeRuntime(_Model):
    version: str = DEFAULT_NODE_VERSION
    install_method: NodeInstallMethod = "tarball"
    # nodejs.org layout: <base>/v<version>/node-v<version>-linux-x64.tar.xz and SHASUMS256.txt beside it.
    tarball_base_url: HttpUrl = "https://nodejs.org/dist"
    prefix: ExecutablePrefix = "/opt/node"

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
    prefix: AbsolutePath = "/opt/openclaw"
    # engines.node of `version`; only needed for a release missing from versions.OPENCLAW_NODE_ENGINES.
    node_engines: str | None = None
    # The npm registry (or your mirror of it) OpenClaw is installed from; None: npm's own default.
    npm_registry: HttpUrl | None = None

    @field_validator("version")
    @classmethod
    def _version_is_pinned(cls, value: str) -> str:
        if value in {"latest", "next", ""} or not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", value):
            raise _fail(f"OpenClaw version {value!r} is not a pinned version.", 'pin one such as "2026.9.6".')
        return value

    def engines_range(self) -> str | None:
        return self.node_engines or OPENCLAW_NODE_ENGINES.get(self.version)


def _strings_in(value: Any, path: Location = (), key: str = "") -> Iterator[tuple[Location, str, str]]:
    """Every string in a JSON-like value, as (its path, the dict key it sits under, the string). Items of a
    list sit under the list's key: ``{"tokens": ["a"]}`` yields ``(("tokens", 0), "tokens", "a")``."""
    if isinstance(value, str):
        yield path, key, value
    elif isinstance(value, dict):
        for child_key, child in value.items():
            yield from _strings_in(child, (*path, str(child_key)), str(child_key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings_in(child, (*path, index), key)


def _is_secret_key(key: str) -> bool:
    return key.lower().replace("_", "").replace("-", "").endswith(SECRET_KEY_SUFFIXES)


class Gateway(_Model):
    """One gateway process: its own state dir, port range, service and secrets."""

    profile: SafeName | None = None
    # None means the host's service_user (the profiles approach); a name gives the multi-user approach.
    user: ServiceUser | None = None
    port: int = 18789
    bind: Bind = "loopback"
    auth_mode: AuthMode = "token"
    # Merged over the host-level secrets; per-gateway keys win.
    secrets: SecretMap = Field(default_factory=dict)
    # Further openclaw.json keys (channels, agents, tools), deep-merged over the managed ones. No secrets here:
    # reference them as "${VAR}" and add VAR to the secrets.
    extra_config: dict[str, Any] = Field(default_factory=dict)

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
                "use the gateway's own port, bind and auth_mode fields instead (and openclaw_reverse_proxy for "
                "the proxies it trusts).",
            )
        return value

    @field_validator("extra_config")
    @classmethod
    def _extra_holds_no_literal_secret(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path, key, text in _strings_in(value):
            if _is_secret_key(key) and not ENV_REFERENCE.fullmatch(text):
                # Never quote the value: it is a secret.
                raise _fail(
                    f"{key!r} holds a literal value; secrets in extra_config would sit in the inventory, in "
                    "openclaw.json and in its backups.",
                    'write "${SOME_NAME}" there (the whole value) and add SOME_NAME to openclaw_secrets or '
                    "the gateway's secrets.",
                    at=path,
                )
        return value

    @model_validator(mode="after")
    def _exposed_needs_auth(self) -> Gateway:
        if self.bind != "loopback" and self.auth_mode == "none":
            raise _fail(
                f"bind {self.bind!r} exposes the gateway beyond loopback with auth_mode 'none'.",
                "set auth_mode to 'token' (and provide OPENCLAW_GATEWAY_TOKEN) or bind to 'loopback'.",
                at=("bind",),
            )
        return self

    @property
    def browser_port(self) -> int:
        return self.port + BROWSER_PORT_OFFSET

    @property
    def cdp_ports(self) -> range:
        return range(self.port + CDP_PORT_FIRST_OFFSET, self.port + CDP_PORT_LAST_OFFSET + 1)

    def port_ranges(self) -> list[tuple[str, range]]:
        """Every port the gateway owns, by role: its own port; the browser control port and the one between
        (gateway+1 is inside the block too, so nothing else should take it); the CDP range."""
        return [
            ("gateway", range(self.port, self.port + 1)),
            ("browser", range(self.port + 1, self.browser_port + 1)),
            ("CDP", self.cdp_ports),
        ]

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


class EgressDestination(_Model):
    """A destination the agents' containers on ``openclaw-egress`` may open connections to."""

    network: IPv4Network | IPv6Network
    # Empty: every port of that protocol.
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(default_factory=list)
    protocol: Literal["tcp", "udp"] = "tcp"

    @field_validator("network", mode="before")
    @classmethod
    def _parse_network(cls, value: Any) -> Any:
        try:
            return ip_network(str(value), strict=False)
        except ValueError:
            raise _fail(
                f"{value!r} is not an IP address or network (names are not resolved: an allowlist by name would "
                "follow whatever DNS answers).",
                'write e.g. "203.0.113.10" or "198.51.100.0/24".',
            ) from None


class AgentSandbox(_Model):
    """With docker_sandbox: the agents' Docker sandbox (openclaw.json's ``agents.defaults.sandbox``) and what its
    networks may reach. OpenClaw's own default is off; the guide's is below."""

    # Which agents run in a container: every agent but the main one (the guide's default), all, or none.
    mode: Literal["non-main", "all"] = "non-main"
    scope: Literal["session", "agent", "shared"] = "session"
    workspace_access: Literal["none", "ro", "rw"] = "none"
    # openclaw-sandbox reaches nothing; openclaw-egress reaches only egress_allowlist.
    network: Literal["openclaw-sandbox", "openclaw-egress"] = "openclaw-sandbox"
    egress_allowlist: list[EgressDestination] = Field(default_factory=list)


class LogRotation(_Model):
    enabled: bool = True
    frequency: Literal["daily", "weekly", "monthly"] = "daily"
    keep: Annotated[int, Field(ge=1, le=365)] = 14
    max_size: str = "50M"
    compress: bool = True

    @field_validator("max_size")
    @classmethod
    def _size_is_logrotate_size(cls, value: str) -> str:
        if not re.fullmatch(r"\d+[kMG]?", value):
            raise _fail(f"max_size {value!r} is not a logrotate size.", 'write e.g. "50M", "500k" or "1G".')
        return value

    @property
    def max_size_kib(self) -> int:
        """``max_size`` in KiB, as newsyslog takes it (macOS); a size in bytes rounded up."""
        number, unit = int(self.max_size.rstrip("kMG")), self.max_size[-1]
        return {"k": number, "M": number * 1024, "G": number * 1024 * 1024}.get(unit, -(-number // 1024))


# A registry image pinned by its digest (name[:tag]@sha256:<64 hex>): what a tag names can change, a digest cannot.
ImageReference = Annotated[
    str,
    _name_rule(
        re.compile(r"[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}"),
        "an image reference pinned by digest",
        "write e.g. \"registry.example.com/openclaw-gateway@sha256:<64 hex digits>\" (`docker buildx imagetools "
        "inspect` or `docker image inspect --format '{{index .RepoDigests 0}}'` prints it).",
    ),
]


class GatewayContainer(_Model):
    """docker-containerized only: the image the gateways' containers run, and how Docker runs them."""

    # None: the deploy builds the image on the host from templates/container: the pinned Node and OpenClaw on a
    # Debian 12 base that debootstrap makes (no registry needed). Else an image of the user's registry, by digest.
    image: ImageReference | None = None
    # OpenClaw drains for up to ~315 s on SIGTERM (its own unit waits 330 s); Docker's default is 10 s.
    stop_timeout_seconds: Annotated[int, Field(ge=10, le=3600)] = 330


class TranscriptPruning(_Model):
    enabled: bool = True
    prune_after_days: Annotated[int, Field(ge=1, le=3650)] = 30
    max_entries: Annotated[int, Field(ge=1)] = 500
    # cron schedule of `openclaw sessions cleanup --enforce` and the archived-transcript sweep.
    schedule: str = "0 4 * * *"

    @field_validator("schedule")
    @classmethod
    def _five_cron_fields(cls, value: str) -> str:
        if len(value.split()) != 5 or not re.fullmatch(r"[0-9*/,\- ]+", value):
            raise _fail(f"schedule {value!r} is not a five-field cron schedule.", 'write e.g. "0 4 * * *".')
        return value


class Backups(_Model):
    """Archives of each gateway's state dir (``openclaw backup create``): where the host keeps them, how many, and
    where on the control machine a copy goes."""

    # One directory per gateway below it, root's and 700; each archive root's and 600.
    directory: AbsolutePath = "/var/backups/openclaw"
    # The newest this many archives of a gateway are kept, whatever took them (deploys/backup.py, an upgrade,
    # a config change).
    keep: Annotated[int, Field(ge=1, le=1000)] = 10
    # deploys/backup.py also copies each new archive here on the control machine (700 per host, 600 each); None:
    # the host's copy only.
    fetch_to: Text | None = None


class DriftSchedule(_Model):
    """When and how a control host runs ``openclaw-infra drift`` on its own, and where it keeps the reports."""

    # The job's command line (run from working_dir); it gets --json appended and its stdout becomes the report.
    command: list[Text] = Field(
        default_factory=lambda: ["openclaw-infra", "drift", "inventories/hosts.py", "deploys/linux_vm.py"],
        min_length=2,
    )
    # Where the inventory and deploys the command names live.
    working_dir: AbsolutePath = "/opt/openclaw-infra"
    # Who runs it: needs the SSH keys for the hosts and read access to the secret sources.
    user: SafeName = "root"
    report_dir: AbsolutePath = "/var/lib/openclaw-infra/drift"
    keep_reports: Annotated[int, Field(ge=1, le=10000)] = 48
    # One schedule, rendered for systemd (OnCalendar), launchd (StartCalendarInterval) and cron: at `minute`
    # past every hour, or past `hour` once a day.
    minute: Annotated[int, Field(ge=0, le=59)] = 0
    hour: Annotated[int, Field(ge=0, le=23)] | None = None

    def on_calendar(self) -> str:
        """systemd.time(7) OnCalendar= value."""
        hour = "*" if self.hour is None else f"{self.hour:02d}"
        return f"*-*-* {hour}:{self.minute:02d}:00"

    def cron_fields(self) -> str:
        return f"{self.minute} {'*' if self.hour is None else self.hour} * * *"

    def launchd_interval(self) -> dict[str, int]:
        """launchd.plist(5) StartCalendarInterval."""
        return {"Minute": self.minute} if self.hour is None else {"Hour": self.hour, "Minute": self.minute}


# Signal (the guide's "Signal Setup"): signal-cli linked as a device of a phone's account, the gateway's channel.
# E.164: '+', a country code (no leading 0), at most 15 digits in all.
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
SIGNAL_SENDER = re.compile(rf"{E164.pattern}|uuid:[0-9a-f]{{8}}(-[0-9a-f]{{4}}){{3}}-[0-9a-f]{{12}}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# A release's version names its directory under /opt and appears in JAVA_HOME= of the gateway's unit.
RELEASE_VERSION = re.compile(r"[0-9][0-9A-Za-z.+_-]{0,39}")
# Under the gateway's state dir, the only place its hardened unit may write: signal-cli's --config directory
# (account keys), and the directory of its daemon's socket (OpenClaw's private UNIX socket, no HTTP listener).
SIGNAL_CLI_CONFIG = "signal-cli"
SIGNAL_SOCKET = "signal-daemon/daemon.sock"
# OpenClaw's limit for transport.socketPath (sun_path less the terminating byte on macOS).
SIGNAL_SOCKET_MAX_BYTES = 103
# channels.signal keys openclaw_signal writes; extra_config may not set them.
SIGNAL_MANAGED_KEYS = frozenset({"enabled", "account", "transport", "dmPolicy", "allowFrom", "groupPolicy"})
SignalNumber = Annotated[
    str, _name_rule(E164, "an E.164 phone number", 'write "+", the country code and the number, e.g. "+46701234567".')
]
SignalSender = Annotated[
    str,
    _name_rule(
        SIGNAL_SENDER,
        "a Signal sender",
        'write an E.164 number ("+46701234567") or "uuid:<the sender\'s UUID>" as `openclaw pairing list` shows it.',
    ),
]


def _https_url(value: str, info: ValidationInfo) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(character.isspace() for character in value):
        raise _fail(f"{info.field_name} {value!r} is not an https URL.", "give the release's https download URL.")
    return value


class PinnedArchive(_Model):
    """A release tarball the host downloads and checks before unpacking: all three fields, or none (the pin)."""

    version: Annotated[
        str, _name_rule(RELEASE_VERSION, "a release version", 'write it as the release names it, e.g. "0.14.5".')
    ]
    url: Annotated[Text, AfterValidator(_https_url)]
    sha256: Annotated[
        str,
        _name_rule(
            SHA256_HEX,
            "a SHA-256 checksum",
            "write the 64 lowercase hex digits the project publishes for that file (or `sha256sum` of a copy "
            "you verified by its signature).",
        ),
    ]


# Eclipse Temurin's JRE for x86_64 Linux. signal-cli 0.14 needs Java 25 (its CHANGELOG, 0.14.0: "Now requires Java
# 25"); Debian 12 has none. Checksum: adoptium/containers 25/jre/ubuntu/noble/Dockerfile (ESUM for amd64, commit
# e0ca2f56 "Update Dockerfiles (#1015)"), the same in the eclipse-temurin:25-jre image history.
DEFAULT_JAVA = PinnedArchive(
    version="25.0.4+7",
    url="https://github.com/adoptium/temurin25-binaries/releases/download/jdk-25.0.4%2B7/"
    "OpenJDK25U-jre_x64_linux_hotspot_25.0.4_7.tar.gz",
    sha256="aed3915f8facc0c80733ab2448bb0df4b494a36a2c5759e9a6e1eb979720f2b3",
)
# signal-cli's JVM build: 0.14.5 is the first that receives sealed-sender messages again after the June 2026
# Signal server change (its CHANGELOG). Checksum from two independent pins of that file: a Dockerfile's
# `ADD --checksum=sha256:62d3…` and a nixpkgs overlay's `hash = "sha256-YtOOv+85iNePQ35zKBg7de5UnRETguZsGvcNPr0816c="`
# (the same digest in base64), both found with the tool library's find_string.
DEFAULT_SIGNAL_CLI = PinnedArchive(
    version="0.14.5",
    url="https://github.com/AsamK/signal-cli/releases/download/v0.14.5/signal-cli-0.14.5.tar.gz",
    sha256="62d38ebfef3988d78f437e7328183b75ee549d111382e66c1af70d3ebd3cd7a7",
)


# The agent channels reach on a gateway (OpenClaw's id for the first agent).
MAIN_AGENT = "main"


def _routes_to_agent(extra: dict[str, Any], agent_id: str) -> Iterator[tuple[Location, str]]:
    """Where ``extra`` (a gateway's extra_config) reaches ``agent_id``: a binding to it, another agent allowed to
    spawn it (by name or "*"), Talk pointed at it, or its own entry (the deploy's to write)."""
    for index, binding in enumerate(extra.get("bindings") or []):
        if isinstance(binding, dict) and binding.get("agentId") == agent_id:
            yield ("bindings", index, "agentId"), f"binds a channel to {agent_id!r}"
    agents = extra.get("agents")
    agents = agents if isinstance(agents, dict) else {}
    entries = agents.get("entries")
    entries = entries if isinstance(entries, dict) else {}
    if agent_id in entries:
        yield ("agents", "entries", agent_id), f"defines agents.entries.{agent_id}"
    scopes: list[tuple[Location, Any]] = [(("agents", "defaults"), agents.get("defaults"))]
    scopes += [(("agents", "entries", name), entry) for name, entry in entries.items()]
    for location, scope in scopes:
        subagents = scope.get("subagents") if isinstance(scope, dict) else None
        allowed = subagents.get("allowAgents") if isinstance(subagents, dict) else None
        if isinstance(allowed, list) and (agent_id in allowed or "*" in allowed):
            yield (*location, "subagents", "allowAgents"), f"lets agents spawn {agent_id!r} (allowAgents {allowed})"
    talk = extra.get("talk")
    if isinstance(talk, dict) and talk.get("agentId") == agent_id:
        yield ("talk", "agentId"), f"points Talk at {agent_id!r}"


class LocalAdminAgent(_Model):
    """The guide's "Local Admin Agent": an unsandboxed agent with ``group:automation``, on one gateway, reachable
    only from that gateway's Control UI (no channel, no other agent, no port beyond loopback)."""

    # The gateway carrying it, by profile; None: the host's first gateway.
    gateway: SafeName | None = None
    agent_id: SafeName = "local-admin"
    # True: main's workspace (the same SOUL.md and project files, the guide's first choice); False: its own.
    shared_workspace: bool = True

    @field_validator("agent_id")
    @classmethod
    def _not_main(cls, value: str) -> str:
        if value == MAIN_AGENT:
            raise _fail(
                f"agent_id {value!r} is the gateway's main agent, the one channels reach.",
                'keep the default "local-admin" or pick another name.',
            )
        return value


class Signal(_Model):
    """The guide's "Signal Setup": signal-cli (on a pinned Java) linked as a device of ``account``, and the
    ``channels.signal`` of one gateway. Senders reach the agent only once approved (pairing) or listed."""

    # The bot's number: the Signal account signal-cli is linked to (a dedicated number, as the guide advises).
    account: SignalNumber
    # The gateway carrying the channel, by profile; None: the host's first gateway.
    gateway: SafeName | None = None
    # Senders allowed to DM without pairing.
    allow_from: list[SignalSender] = Field(default_factory=list)
    dm_policy: Literal["pairing", "allowlist", "open", "disabled"] = "pairing"
    group_policy: Literal["allowlist", "open", "disabled"] = "allowlist"
    # The command owner (commands.ownerAllowFrom). Without one, the first `openclaw pairing approve` writes the
    # approved sender into openclaw.json itself, and the next deploy would take it out again.
    owner: SignalSender | None = None
    # The name the phone lists the linked device under.
    device_name: Annotated[Text, Field(min_length=1, max_length=50)] = "OpenClaw"
    # How long deploys/signal_link.py waits for the phone to scan the link URI.
    link_timeout_seconds: Annotated[int, Field(ge=60, le=1800)] = 300
    # signal-cli is a JVM: the guide notes 10-30 s starts; OpenClaw's default wait is 30 s.
    startup_timeout_seconds: Annotated[int, Field(ge=10, le=120)] = 60
    java: PinnedArchive = DEFAULT_JAVA
    signal_cli: PinnedArchive = DEFAULT_SIGNAL_CLI

    @field_validator("dm_policy", "group_policy")
    @classmethod
    def _not_open(cls, value: str, info: ValidationInfo) -> str:
        if value == "open":
            who = "anyone who learns the number" if info.field_name == "dm_policy" else "any group the number is in"
            raise _fail(
                f"{info.field_name} 'open' lets {who} talk to the agent.",
                '"pairing" (approve each sender) or "allowlist" for DMs; "allowlist" or "disabled" for groups.',
            )
        return value

    @model_validator(mode="after")
    def _allowlist_names_someone(self) -> Signal:
        if self.dm_policy == "allowlist" and not self.allow_from:
            raise _fail(
                "dm_policy 'allowlist' with an empty allow_from: nobody could write to the agent.",
                'list the senders in allow_from, or use dm_policy "pairing" or "disabled".',
                at=("allow_from",),
            )
        return self


# Tailscale's policy names: a tag, a group, an autogroup, or a user's login (name@domain).
TAILSCALE_TAG = re.compile(r"tag:[A-Za-z0-9][A-Za-z0-9-]*")
TAILSCALE_PRINCIPAL = re.compile(r"(tag|group|autogroup):[A-Za-z0-9][A-Za-z0-9-]*|[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+")
TailscaleTag = Annotated[str, _name_rule(TAILSCALE_TAG, "a Tailscale tag", 'write e.g. "tag:openclaw".')]
TailscalePrincipal = Annotated[
    str,
    _name_rule(
        TAILSCALE_PRINCIPAL,
        "a Tailscale tag, group, autogroup or user",
        'write e.g. "autogroup:member", "group:admins", "tag:laptops" or "alice@example.com".',
    ),
]
TailscaleSshUser = Annotated[
    str,
    _name_rule(
        # Tailscale's "every non-root account", or an account name by the rule SafeName's accounts follow.
        re.compile(rf"autogroup:nonroot|{SAFE_NAME.pattern}"),
        "an account",
        'write e.g. "autogroup:nonroot" or "root".',
    ),
]
# The ports Tailscale Serve accepts for HTTPS.
TAILSCALE_SERVE_HTTPS_PORTS = (443, 8443, 10000)


class Tailscale(_Model):
    """The gateway's host on a tailnet, as the guide's "Tailscale ACLs" section sets it up: tagged, reachable only
    from ``clients``, and with no grant from its tag to anything (a compromised agent cannot move sideways)."""

    tag: TailscaleTag = "tag:openclaw"
    # Who may own (apply) the tag.
    tag_owners: list[TailscalePrincipal] = Field(default_factory=lambda: ["autogroup:admin"], min_length=1)
    # Who may reach the host: the Serve port, the gateway port of a tailnet-bound gateway, and Tailscale SSH.
    clients: list[TailscalePrincipal] = Field(default_factory=lambda: ["autogroup:member"], min_length=1)
    # The accounts Tailscale SSH lets the clients log in as, each session re-checked ("check").
    ssh_users: list[TailscaleSshUser] = Field(default_factory=lambda: ["autogroup:nonroot", "root"])
    # Tailscale Serve's HTTPS port: the Linux deploy serves the host's first gateway there (TLS by Tailscale, never
    # Funnel), and the policy opens it to the clients. None: no Serve.
    serve_https_port: int | None = 8443
    # A pre-authorised key for a host whose tailscale is not logged in yet (it is read only then, never on a command
    # line); without one such a host is refused with how to log it in once by hand.
    auth_key: SecretSource | None = None

    @field_validator("clients")
    @classmethod
    def _clients_are_not_the_gateway(cls, value: list[str], info: ValidationInfo) -> list[str]:
        tag = info.data.get("tag")
        # autogroup:tagged is every tagged device, the gateway's own host among them.
        for own in (tag, "autogroup:tagged"):
            if own in value:
                raise _fail(
                    f"clients holds {own!r}, which includes the gateway's own tag {tag!r}: the policy would grant "
                    "the gateway's host access to itself, an outbound grant from it.",
                    "list only the users, groups or tags that reach the gateway.",
                )
        return value

    @field_validator("serve_https_port")
    @classmethod
    def _serve_port(cls, value: int | None) -> int | None:
        if value is not None and value not in TAILSCALE_SERVE_HTTPS_PORTS:
            raise _fail(
                f"serve_https_port {value} is not a port Tailscale Serve offers HTTPS on.",
                f"use one of {', '.join(map(str, TAILSCALE_SERVE_HTTPS_PORTS))}, or null for no Serve.",
            )
        return value


# A name the proxy's certificate and nginx's server_name carry: a DNS name (labels of letters, digits and '-'),
# possibly starting with a wildcard label.
DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DNS_NAME = re.compile(rf"(\*\.)?({DNS_LABEL}\.)*{DNS_LABEL}")
DnsName = Annotated[str, _name_rule(DNS_NAME, "a DNS name", 'write a host name such as "gateway.example.com".')]
ProxyTls = Literal["local-ca", "certificate"]


class ProxiedGateway(_Model):
    """One gateway behind the proxy: which (by profile; None: the one without a profile) and the HTTPS port."""

    profile: SafeName | None = None
    https_port: Annotated[int, Field(ge=1, le=65535)] = 443


class ReverseProxy(_Model):
    """nginx (Debian's) terminating TLS in front of loopback-bound gateways, as the guide's "Reverse Proxy
    Configuration" asks: forwarded-client headers overwritten, Tailscale identity headers stripped, and each proxied
    gateway's ``trustedProxies`` exactly the proxy (127.0.0.1)."""

    # The name clients use: nginx's server_name and the certificate's first name.
    server_name: DnsName
    # Further names and addresses the certificate carries (the host's LAN address, another name).
    alternative_names: list[DnsName | IPv4Address | IPv6Address] = Field(default_factory=list)
    gateways: list[ProxiedGateway] = Field(default_factory=lambda: [ProxiedGateway()], min_length=1)
    # local-ca: a CA made on the host (its key never leaves it) signs the certificate; clients trust its
    # certificate (/etc/openclaw-proxy/ca.crt). certificate: the operator's own, from the two fields below.
    tls: ProxyTls = "local-ca"
    # The certificate chain (PEM) on the control machine: public, read from this file.
    certificate: Text | None = None
    # Its private key (PEM): a secret, read like the gateways' secrets.
    certificate_key: SecretSource | None = None

    @property
    def certificate_names(self) -> list[str]:
        """The names the host's CA signs the certificate for: ``server_name`` first, then the alternatives."""
        return [self.server_name, *(str(name) for name in self.alternative_names)]

    @model_validator(mode="after")
    def _certificate_matches_tls(self) -> ReverseProxy:
        given = [name for name in ("certificate", "certificate_key") if getattr(self, name) is not None]
        if self.tls == "certificate" and len(given) < 2:
            missing = "certificate" if "certificate" not in given else "certificate_key"
            raise _fail(
                f"tls 'certificate' needs both certificate and certificate_key; {missing} is missing.",
                'set certificate to your PEM chain\'s path and certificate_key to its key (e.g. {"file": "…"}), '
                'or use tls "local-ca".',
                at=(missing,),
            )
        if self.tls == "local-ca" and given:
            raise _fail(
                f"{given[0]} is set, but tls is 'local-ca': the host's own CA signs the certificate.",
                f'set tls to "certificate" to use your own, or remove {" and ".join(given)}.',
                at=(given[0],),
            )
        return self

    @model_validator(mode="after")
    def _ports_distinct(self) -> ReverseProxy:
        seen: dict[int, int] = {}
        for index, proxied in enumerate(self.gateways):
            if proxied.https_port in seen:
                raise _fail(
                    f"gateways {seen[proxied.https_port]} and {index} share https_port {proxied.https_port}.",
                    "give each proxied gateway its own https_port.",
                    at=("gateways", index, "https_port"),
                )
            seen[proxied.https_port] = index
        return self


Hypervisor = Literal["libvirt", "multipass", "utm", "lume", "parallels"]
# Hypervisors of a Mac whose guests are macOS: Apple's licence allows two such VMs per Mac, besides the host's own.
MACOS_HYPERVISORS = ("lume", "parallels")
MAX_MACOS_VMS = 2
# Lume's unattended setup presets (lume create --unattended): the macOS release the VM is set up for.
LumeSetupPreset = Literal["tahoe", "sequoia"]
VmDesiredState = Literal["running", "stopped", "absent"]
# A VM name is also its hostname inside and a file name on the VM host: a DNS label, lower case.
VM_NAME = re.compile(r"[a-z][a-z0-9-]{0,61}[a-z0-9]|[a-z]")
# "ssh-ed25519 AAAA… comment": the key types OpenSSH accepts in authorized_keys, base64 body, optional comment.
SSH_PUBLIC_KEY = re.compile(
    r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
    r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\x00-\x1f\x7f]*)?"
)
# What a VM's gateway data may not set: a VM of libvirt, Multipass or UTM is a Linux VM, one of Lume or Parallels
# a macOS VM, whatever the rest says.
VM_GATEWAY_FIXED = {"openclaw_isolation": "linux-vm", "openclaw_os_family": "linux"}
MACOS_VM_GATEWAY_FIXED = {"openclaw_isolation": "macos-vm", "openclaw_os_family": "macos"}

VmName = Annotated[
    str,
    _name_rule(
        VM_NAME,
        "a VM name",
        "use 1-63 characters: a lowercase letter first, then lowercase letters, digits or '-' (not last).",
    ),
]


def _ssh_public_key(value: str, info: ValidationInfo) -> str:
    if not SSH_PUBLIC_KEY.fullmatch(value.strip()):
        raise _fail(
            f"{info.field_name} is not one OpenSSH public key line.",
            "paste the whole line of your key's .pub file, e.g. 'ssh-ed25519 AAAAC3… you@laptop'.",
        )
    return value.strip()


SshPublicKey = Annotated[str, AfterValidator(_ssh_public_key)]


class DirectKernelBoot(_Model):
    """libvirt only: boot the VM's kernel from files on the VM host instead of the disk's boot loader."""

    kernel: AbsolutePath
    initrd: AbsolutePath | None = None
    cmdline: Text = "root=/dev/vda rw console=ttyS0"


class VirtualMachine(_Model):
    """One Linux VM on a VM host, and the gateway that runs inside it (one gateway per VM, no shared directory)."""

    name: VmName
    cpus: Annotated[int, Field(ge=1, le=128)] = 4
    memory_mib: Annotated[int, Field(ge=512, le=1048576)] = 4096
    disk_gib: Annotated[int, Field(ge=2, le=16384)] = 40
    # libvirt: a cloud image (qcow2 or raw) on the VM host, never written (the VM's disk is an overlay on it);
    # multipass: an image name multipass knows ("24.04") or a file:// URL; utm: unused (UTM creates no VMs);
    # lume: "latest" or the path of an .ipsw on the Mac; parallels: an .ipsw path, or the name of a VM to clone.
    base_image: Text | None = None
    # The operator's key: cloud-init puts it into admin_user's authorized_keys; password login stays off.
    ssh_public_key: SshPublicKey | None = None
    # The account the deploy inside logs in as (sudo without a password, as cloud images do); never root.
    admin_user: ServiceUser = "admin"
    state: VmDesiredState = "running"
    # Start the VM when the VM host boots.
    autostart: bool = True
    # With state "absent": also delete the VM's disks (kept by default; a later create reuses nothing).
    delete_disks: bool = False
    # A snapshot named "openclaw-before-<change>" before the deploy stops, resizes or deletes the VM.
    snapshot_before_changes: bool = True
    boot: DirectKernelBoot | None = None
    # The inside's pyinfra host data (openclaw_* keys), over the VM host's gateway_defaults. Isolation is linux-vm.
    gateway: dict[str, Any] = Field(default_factory=dict)


class VmHost(_Model):
    """A machine that runs a hypervisor, and the VMs the deploys keep on it (``openclaw_vm_host``)."""

    hypervisor: Hypervisor
    # Install the hypervisor's packages (libvirt: Debian's; multipass: snap) when missing.
    install_tools: bool = False
    libvirt_uri: Annotated[Text, Field(pattern=r"^[a-z][a-z0-9+.-]*://[^\s']*$")] = "qemu:///system"
    # "qemu" where the host has no hardware virtualisation (software emulation: slow, but it runs).
    libvirt_domain_type: Literal["kvm", "qemu"] = "kvm"
    libvirt_network: SafeName = "default"
    # Where the VMs' disks and cloud-init seeds live on the VM host (root only, 0700).
    image_dir: AbsolutePath = "/var/lib/openclaw-infra/vms"
    # Reach the VMs through the VM host (an SSH jump); None: jump unless the VM host is @local.
    jump: bool | None = None
    # How long the inventory and the deploy wait for a started VM's address; 0: the deploy requires none.
    address_wait_seconds: Annotated[int, Field(ge=0, le=3600)] = 300
    # libvirt: how long a VM may take to shut down after `virsh shutdown` (ACPI) before it is destroyed.
    shutdown_wait_seconds: Annotated[int, Field(ge=0, le=3600)] = 120
    # Lume and Parallels: the Mac account whose VMs they are (both keep VMs per user): the one pyinfra logs in as.
    # The VMs are made and run as it, without sudo; their boot LaunchDaemons run as it.
    vm_owner: SafeName | None = None
    # Lume: the preset of its unattended macOS setup (lume create --unattended), for the release of the IPSW.
    lume_setup_preset: LumeSetupPreset = "tahoe"
    # Gateway host data every VM gets; a VM's own gateway data overrides it key by key.
    gateway_defaults: dict[str, Any] = Field(default_factory=dict)
    vms: list[VirtualMachine] = Field(min_length=1)

    @property
    def macos_guests(self) -> bool:
        return self.hypervisor in MACOS_HYPERVISORS

    @model_validator(mode="after")
    def _macos_guests_are_sound(self) -> VmHost:
        if not self.macos_guests:
            return self
        if self.install_tools:
            raise _fail(
                f"{self.hypervisor} is a macOS app; the deploy cannot install it.",
                "install it on the Mac (Lume: its installer; Parallels Desktop: its app), then set install_tools "
                "to false.",
                at=("install_tools",),
            )
        if self.vm_owner is None:
            raise _fail(
                f"{self.hypervisor} keeps VMs per user, and no vm_owner names whose they are.",
                "set vm_owner to the Mac account pyinfra logs in as (its VMs are made and run as it).",
                at=("vm_owner",),
            )
        kept = [vm.name for vm in self.vms if vm.state != "absent"]
        if len(kept) > MAX_MACOS_VMS:
            raise _fail(
                f"{len(kept)} macOS VMs ({', '.join(kept)}) on one Mac; Apple's licence allows {MAX_MACOS_VMS} "
                "besides the Mac's own macOS (the Virtualization framework refuses a third).",
                f"keep at most {MAX_MACOS_VMS} VMs that are not absent on this Mac; put the others on another.",
                at=("vms",),
            )
        for index, vm in enumerate(self.vms):
            image = vm.base_image or ""
            if (
                self.hypervisor == "lume"
                and vm.state != "absent"
                and image != "latest"
                and not (image.startswith("/") and image.endswith(".ipsw"))
            ):
                raise _fail(
                    f"VM {vm.name!r}: base_image {image!r} is not what lume creates a macOS VM from.",
                    'write "latest" (Apple\'s newest IPSW) or the absolute path of an .ipsw file on the Mac.',
                    at=("vms", index, "base_image"),
                )
        return self

    @model_validator(mode="after")
    def _vms_are_sound(self) -> VmHost:
        if self.hypervisor == "utm" and self.install_tools:
            raise _fail(
                "UTM is a macOS app; the deploy cannot install it.",
                "install it on the Mac (brew install --cask utm, or the App Store), then set install_tools to false.",
                at=("install_tools",),
            )
        seen: set[str] = set()
        for index, vm in enumerate(self.vms):
            if vm.name in seen:
                raise _fail(f"two VMs are named {vm.name!r}.", "give every VM its own name.", at=("vms", index, "name"))
            seen.add(vm.name)
            if vm.boot is not None and self.hypervisor != "libvirt":
                raise _fail(
                    f"VM {vm.name!r}: boot (direct kernel boot) is libvirt's; {self.hypervisor} cannot use it.",
                    "remove boot.",
                    at=("vms", index, "boot"),
                )
            if self.hypervisor != "utm" and vm.state != "absent":
                # macOS guests are set up by their own installer (no cloud-init): the key is not theirs to place.
                for needed in ("base_image",) if self.macos_guests else ("base_image", "ssh_public_key"):
                    if getattr(vm, needed) is None:
                        raise _fail(
                            f"VM {vm.name!r} has no {needed}; {self.hypervisor} needs it to create the VM.",
                            "add it (base_image: a cloud image on the VM host for libvirt, an image name for "
                            "multipass; ssh_public_key: your key's .pub line).",
                            at=("vms", index, needed),
                        )
            if self.hypervisor == "libvirt" and vm.base_image and not vm.base_image.startswith("/"):
                raise _fail(
                    f"VM {vm.name!r}: base_image {vm.base_image!r} is not a path on the VM host.",
                    "give the absolute path of a qcow2 or raw cloud image there.",
                    at=("vms", index, "base_image"),
                )
            if self.hypervisor == "utm" and vm.state == "absent":
                raise _fail(
                    f"VM {vm.name!r}: UTM VMs are not removed by the deploy (utmctl delete also deletes the disks).",
                    'delete it in UTM, then remove it from vms, or set state to "stopped".',
                    at=("vms", index, "state"),
                )
            if vm.delete_disks and vm.state != "absent":
                raise _fail(
                    f"VM {vm.name!r}: delete_disks only applies to a VM being removed.",
                    'set state to "absent" as well, or remove delete_disks.',
                    at=("vms", index, "delete_disks"),
                )
        return self

    def gateway_data(self, vm: VirtualMachine) -> dict[str, Any]:
        """The pyinfra host data of the gateway inside ``vm``: defaults, the VM's own, then what a VM fixes."""
        return {**self.gateway_defaults, **vm.gateway, **self.fixed_gateway_data}

    @property
    def fixed_gateway_data(self) -> dict[str, str]:
        """What a VM's gateway data may not set: its isolation model and OS family, which the hypervisor decides."""
        return MACOS_VM_GATEWAY_FIXED if self.macos_guests else VM_GATEWAY_FIXED


class Settings(_Model):
    """Everything a deploy needs to know about one host."""

    isolation: Isolation = "docker-isolation"
    os_family: OsFamily = "linux"
    service_user: ServiceUser = "openclaw"
    # None: /home/<user> on Linux, /Users/<user> on macOS.
    service_home: ServiceHome | None = None
    # Per-agent Docker sandboxing; puts the service user in the docker group.
    docker_sandbox: bool = True
    # macOS only: how launchd runs the gateways.
    macos_service: MacosService = "launch-daemon"
    # macOS only, with docker_sandbox: the Docker runtime whose CLI the service's PATH finds in /usr/local/bin
    # (OrbStack's helper is also bootstrapped into each service user's GUI domain for a LaunchDaemon).
    macos_docker_runtime: MacosDockerRuntime = "orbstack"
    # macOS only: the admins of a mixed-use Mac. Their homes are closed (700) and each gets ACL access to the
    # gateways' homes (traverse) and state dirs (read and write), instead of wider modes.
    macos_admins: list[SafeName] = Field(default_factory=list)
    # macOS only: files a setup tool left in /etc/sudoers.d (NOPASSWD), removed at the end of the run. A later
    # run over a sudo user then needs its password (pyinfra --use-sudo-password).
    macos_temporary_sudoers: list[SudoersFileName] = Field(default_factory=list)
    # macos-vm only, in a VM Lume's unattended setup made: the new password of its admin account (macos_vm_admin),
    # replacing Lume's public default "lume" at the end of the run. Read on the control machine like a secret.
    macos_vm_admin_password: SecretSource | None = None
    macos_vm_admin: ServiceUser = "lume"
    node: NodeRuntime = Field(default_factory=NodeRuntime)
    openclaw: OpenClawPackage = Field(default_factory=OpenClawPackage)
    # Secrets every gateway on the host gets (a gateway's own `secrets` override these by name).
    secrets: SecretMap = Field(default_factory=dict)
    gateways: list[Gateway] = Field(default_factory=lambda: [Gateway()], min_length=1)
    firewall: Firewall = Field(default_factory=Firewall)
    log_rotation: LogRotation = Field(default_factory=LogRotation)
    transcript_pruning: TranscriptPruning = Field(default_factory=TranscriptPruning)
    backups: Backups = Field(default_factory=Backups)
    # Where debootstrap fetches the Debian base of the images the deploys build (the containerized gateway's, the
    # agents' sandbox's): no registry needed.
    debian_mirror: HttpUrl = "http://deb.debian.org/debian"
    # With docker_sandbox: the agents' sandbox and the egress allowlist of its networks.
    sandbox: AgentSandbox = Field(default_factory=AgentSandbox)
    # docker-containerized only: the gateways' image and how Docker runs their containers.
    container: GatewayContainer = Field(default_factory=GatewayContainer)
    # Gateways of this host may share one token (or password) source. The guide wants each its own: off, a source
    # shared by two gateways is refused.
    shared_gateway_token: bool = False
    # Write /home/<user>/.openclaw/.env for ad-hoc CLI use (the guide's convenience copy); off by default.
    cli_secrets_copy: bool = False
    # deploys/rotate_secrets.py leaves a new secret whose source is an env variable or a command here on the control
    # machine (<dir>/<host>/<service>.<NAME>, 600 in 700 directories) for the operator to store.
    rotated_secrets_dir: Text = "~/.openclaw-infra/rotated"
    # deploys/audit.py copies each gateway's audit bundle here on the control machine (<dir>/<host>/, 700; 600).
    audit_dir: Text = "~/.openclaw-infra/audit"
    # Only read on the control host that schedules drift checks (deploys/drift_schedule.py).
    drift_schedule: DriftSchedule = Field(default_factory=DriftSchedule)
    # Only read on a VM host (deploys/vm_host.py and inventories/vms.py): its hypervisor and VMs.
    vm_host: VmHost | None = None
    # The host on a tailnet (the guide's "Tailscale ACLs"); None: no Tailscale.
    tailscale: Tailscale | None = None
    # nginx terminating TLS in front of loopback-bound gateways (the guide's "Reverse Proxy"); None: no proxy.
    reverse_proxy: ReverseProxy | None = None
    # signal-cli linked to a Signal account, and one gateway's Signal channel (the guide's "Signal Setup").
    signal: Signal | None = None
    # An unsandboxed admin agent on one gateway, reachable only from its Control UI (the guide's "Local Admin Agent").
    local_admin_agent: LocalAdminAgent | None = None

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: SecretMap) -> SecretMap:
        return _check_secret_names(value)

    def proxied_gateways(self) -> list[tuple[Gateway, int]]:
        """Each gateway behind the reverse proxy with its HTTPS port; none without a proxy."""
        if self.reverse_proxy is None:
            return []
        by_profile = {gateway.profile: gateway for gateway in self.gateways}
        return [(by_profile[proxied.profile], proxied.https_port) for proxied in self.reverse_proxy.gateways]

    @model_validator(mode="after")
    def _node_accepted_by_openclaw(self) -> Settings:
        engines = self.openclaw.engines_range()
        if engines is None:
            raise _fail(
                f"OpenClaw {self.openclaw.version} is not one this project knows the Node range of.",
                "set openclaw.node_engines to its `npm view openclaw@<version> engines.node`, "
                f"or pin one of {sorted(OPENCLAW_NODE_ENGINES)}.",
                at=("openclaw", "version"),
            )
        try:
            accepted = node_satisfies(self.node.version, engines)
        except EngineRangeError as error:
            raise _fail(
                f"openclaw.node_engines {engines!r} cannot be read ({error}).",
                "write e.g. '>=24.16.0 <25'.",
                at=("openclaw", "node_engines"),
            ) from None
        if not accepted:
            raise _fail(
                f"Node {self.node.version} is not accepted by OpenClaw {self.openclaw.version} "
                f"(engines.node {engines!r}).",
                "pin node.version inside that range, e.g. 24.21.0.",
                at=("node", "version"),
            )
        return self

    @model_validator(mode="after")
    def _gateways_do_not_collide(self) -> Settings:
        seen_profiles: dict[str | None, Gateway] = {}
        for index, gateway in enumerate(self.gateways):
            if gateway.profile in seen_profiles:
                raise _fail(
                    f"two gateways share profile {gateway.profile!r}.",
                    "give each gateway on a host its own profile name (one may have none).",
                    at=("gateways", index, "profile"),
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
                    at=("gateways", self.gateways.index(upper), "port"),
                )
        return self

    @model_validator(mode="after")
    def _auth_secret_named(self) -> Settings:
        for index, gateway in enumerate(self.gateways):
            needed = AUTH_SECRET.get(gateway.auth_mode)
            if needed and needed not in self.secrets_for(gateway):
                raise _fail(
                    f"gateway {gateway.label()} uses auth_mode {gateway.auth_mode!r} but no secret {needed} "
                    "is configured.",
                    f'add {needed} to openclaw_secrets, e.g. {{"{needed}": {{"env": "{needed}"}}}}.',
                    at=("gateways", index, "auth_mode"),
                )
        return self

    @model_validator(mode="after")
    def _each_gateway_has_its_own_token(self) -> Settings:
        """The multi-gateway guide: every instance needs its own token. A host-level secret every gateway inherits
        is the easy way to share one without noticing."""
        if self.shared_gateway_token:
            return self
        for secret_name in sorted(set(AUTH_SECRET.values())):
            first_user: dict[str, int] = {}
            for index, gateway in enumerate(self.gateways):
                source = self.secrets_for(gateway).get(secret_name)
                if source is None or gateway.auth_mode == "none":
                    continue
                key = source.model_dump_json()
                if key not in first_user:
                    first_user[key] = index
                    continue
                other = self.gateways[first_user[key]]
                inherited = secret_name not in gateway.secrets
                raise _fail(
                    f"gateways {other.label()} and {gateway.label()} share one {secret_name} "
                    f"({source.describe()}{', from ' + data_key('secrets') if inherited else ''}); each gateway "
                    "needs its own.",
                    f"give gateway {gateway.label()} its own secrets.{secret_name}, or set "
                    f"{data_key('shared_gateway_token')} to true if sharing it is meant.",
                    at=("gateways", index, "secrets", secret_name),
                )
        return self

    @model_validator(mode="after")
    def _references_have_sources(self) -> Settings:
        # OpenClaw only warns about an unset variable and starts with the text empty: refuse it here instead.
        for index, gateway in enumerate(self.gateways):
            sources = self.secrets_for(gateway)
            for path, _key, text in _strings_in(gateway.extra_config):
                missing = next((name for name in ENV_REFERENCE.findall(text) if name not in sources), None)
                if missing:
                    raise _fail(
                        f"extra_config refers to ${{{missing}}}, but gateway {gateway.label()} has no secret "
                        f"{missing}, so the gateway would start with it empty.",
                        f"add {missing} to openclaw_secrets or to the gateway's secrets, "
                        f'e.g. {{"{missing}": {{"env": "{missing}"}}}}.',
                        at=("gateways", index, "extra_config", *path),
                    )
        return self

    @model_validator(mode="after")
    def _macos_settings_fit(self) -> Settings:
        if self.os_family != "macos":
            for field in MACOS_ONLY_FIELDS:
                if getattr(self, field):
                    raise _fail(
                        f"{data_key(field)} only applies to macOS hosts, and this one is {self.os_family!r}.",
                        f"remove {data_key(field)}, or set {data_key('os_family')} to 'macos' if the host is a Mac.",
                        at=(field,),
                    )
            return self
        if self.macos_vm_admin_password is not None and self.isolation != "macos-vm":
            raise _fail(
                "macos_vm_admin_password replaces Lume's default password inside a macOS VM; this host is "
                f"{self.isolation!r}.",
                f"remove {data_key('macos_vm_admin_password')}, or set {data_key('isolation')} to 'macos-vm'.",
                at=("macos_vm_admin_password",),
            )
        for index, admin in enumerate(self.macos_admins):
            if admin in self.users:
                raise _fail(
                    f"{admin!r} runs a gateway; a gateway's user cannot also be an admin given access to it.",
                    "keep the service users and the admins apart.",
                    at=("macos_admins", index),
                )
        if self.cli_secrets_copy:
            raise _fail(
                "the CLI's secrets copy (.env) is not written on macOS: the secrets live in the launchd plist.",
                f"set {data_key('cli_secrets_copy')} to false.",
                at=("cli_secrets_copy",),
            )
        if self.log_rotation.enabled:
            for user in self.users:
                home = self.home_of(user)
                if any(character.isspace() or character == "#" for character in home):
                    raise _fail(
                        f"home {home} of user {user!r} holds whitespace or '#', which newsyslog (the Mac's log "
                        "rotation) cannot read in a file name: it has no quoting.",
                        "choose a home without them, or set log_rotation.enabled to false.",
                        at=self._home_location(user),
                    )
        if self.node.install_method != "tarball":
            raise _fail(
                f"Node install_method {self.node.install_method!r} is for Debian and Ubuntu; a Mac gets the "
                "official darwin tarball, checked against SHASUMS256 (never Homebrew's, which admins can write).",
                'set node.install_method to "tarball".',
                at=("node", "install_method"),
            )
        return self

    @model_validator(mode="after")
    def _sandbox_settings_need_the_sandbox(self) -> Settings:
        if not self.docker_sandbox and self.sandbox != AgentSandbox():
            raise _fail(
                f"{data_key('sandbox')} configures the agents' Docker sandbox, and {data_key('docker_sandbox')} is "
                "false.",
                f"remove {data_key('sandbox')}, or set {data_key('docker_sandbox')} to true.",
                at=("sandbox",),
            )
        return self

    @model_validator(mode="after")
    def _containerized_settings_fit(self) -> Settings:
        """The guide's Docker containerized gateway: one container per gateway, published on loopback; agents share
        it (no per-agent sandboxes: that is docker-isolation's)."""
        if self.isolation != "docker-containerized":
            if self.container != GatewayContainer():
                raise _fail(
                    f"{data_key('container')} only applies to {data_key('isolation')} 'docker-containerized', and "
                    f"this host is {self.isolation!r}.",
                    f"remove {data_key('container')}, or set {data_key('isolation')} to 'docker-containerized'.",
                    at=("container",),
                )
            return self
        if self.docker_sandbox:
            raise _fail(
                "a containerized gateway has no per-agent Docker sandboxes (its agents share its container), and "
                "giving its container the Docker socket would make it root on the host.",
                f"set {data_key('docker_sandbox')} to false, or use {data_key('isolation')} 'docker-isolation' for "
                "sandboxed agents.",
                at=("docker_sandbox",),
            )
        for index, gateway in enumerate(self.gateways):
            if gateway.bind != "loopback":
                raise _fail(
                    f"gateway {gateway.label()} has bind {gateway.bind!r}; a containerized gateway is published on "
                    "the host's loopback only.",
                    'set its bind to "loopback" (reach it from elsewhere through SSH or a proxy on the host).',
                    at=("gateways", index, "bind"),
                )
        return self

    @model_validator(mode="after")
    def _exposure_is_known_and_firewalled(self) -> Settings:
        """A gateway reached from elsewhere listens where the verification and the drift checks can hold it to,
        behind a firewall that admits only the sources named (the guide's "If You Need LAN Access")."""
        for index, gateway in enumerate(self.gateways):
            if gateway.bind in ("auto", "custom"):
                raise _fail(
                    f"gateway {gateway.label()} has bind {gateway.bind!r}: where it then listens is not the deploy's "
                    "to know ('auto' follows where OpenClaw believes it runs, 'custom' a host address the deploy "
                    "does not manage), so neither the verification nor the drift checks could hold it to anything.",
                    'use "loopback", "lan" or "tailnet".',
                    at=("gateways", index, "bind"),
                )
            if gateway.bind in ("lan", "tailnet") and not (
                self.firewall.enabled and self.firewall.gateway_allowed_sources
            ):
                raise _fail(
                    f"gateway {gateway.label()} has bind {gateway.bind!r}, but no firewall admits it to only some "
                    "sources: every device that reaches the host could reach it.",
                    f"set {data_key('firewall')}.gateway_allowed_sources to the addresses or networks that may reach "
                    "it (with the firewall enabled), or bind it to loopback and reach it through SSH or Tailscale "
                    "Serve.",
                    at=("gateways", index, "bind"),
                )
        return self

    @model_validator(mode="after")
    def _proxy_fronts_loopback_gateways(self) -> Settings:
        """The proxy is the gateways' only way in: each it fronts exists and listens on loopback alone, the host is
        one the Linux deploy serves, and the firewall admits the HTTPS ports only from the sources named."""
        proxy = self.reverse_proxy
        if proxy is None:
            return self
        self._on_linux_systemd_deploy("reverse_proxy")
        if not (self.firewall.enabled and self.firewall.gateway_allowed_sources):
            raise _fail(
                "the reverse proxy would answer every device that reaches the host: no firewall admits its ports "
                "to only some sources.",
                f"set {data_key('firewall')}.gateway_allowed_sources to the addresses or networks that may reach it "
                '(with the firewall enabled; "0.0.0.0/0" if it is meant for everyone).',
                at=("reverse_proxy",),
            )
        by_profile = {gateway.profile: gateway for gateway in self.gateways}
        owned = {port: gateway for gateway in self.gateways for _, ports in gateway.port_ranges() for port in ports}
        for index, proxied in enumerate(proxy.gateways):
            at = ("reverse_proxy", "gateways", index)
            gateway = by_profile.get(proxied.profile)
            if gateway is None:
                raise _fail(
                    f"no gateway has profile {proxied.profile!r}.",
                    f"name one of the gateways' profiles ({', '.join(repr(name) for name in by_profile)}).",
                    at=(*at, "profile"),
                )
            if gateway.bind != "loopback":
                raise _fail(
                    f"gateway {gateway.label()} is behind the proxy but has bind {gateway.bind!r}: clients could "
                    "skip the proxy (and its TLS) by connecting to it directly.",
                    "set its bind to 'loopback'.",
                    at=(*at, "profile"),
                )
            port = proxied.https_port
            if port in owned or port == self.firewall.ssh_port:
                what = f"a port of gateway {owned[port].label()}" if port in owned else "the SSH port"
                raise _fail(
                    f"https_port {port} is {what}.", "pick a port of its own, such as 443.", at=(*at, "https_port")
                )
        return self

    @model_validator(mode="after")
    def _homes_are_separate(self) -> Settings:
        """No home in or around another user's home or an install prefix: the deploy chowns a home to its user
        (who would then own the other user's files, or binaries root runs), and 0700 locks out the others."""
        homes = {user: self.home_of(user) for user in self.users}
        prefixes = {"openclaw_node.prefix": self.node.prefix, "openclaw_openclaw.prefix": self.openclaw.prefix}
        for user, home in homes.items():
            others = {f"the home of gateway user {other!r}": path for other, path in homes.items() if other != user}
            for what, path in {**others, **prefixes}.items():
                if _within(home, path) or _within(path, home):
                    raise _fail(
                        f"home {home} of user {user!r} is, or is nested with, {what} ({path}).",
                        "give every user a home of its own, apart from the install prefixes.",
                        at=self._home_location(user),
                    )
        return self

    @model_validator(mode="after")
    def _backups_kept_apart(self) -> Settings:
        """The deploy makes the backup directory root's and 0700: never a directory others share, and never in a
        home (its user could replace what root restores) or an install prefix."""
        directory = self.backups.directory
        fix = 'use a directory of its own for them, e.g. "/var/backups/openclaw".'
        at = ("backups", "directory")
        shared = len(PurePosixPath(directory).parts) < 3 or directory in SHARED_DIRECTORIES
        tree = next((tree for tree in SYSTEM_TREES if _within(directory, tree)), None)
        if shared or tree:
            where = f"in {tree}, which the operating system owns" if tree else "a directory the system shares"
            raise _fail(f"backups directory {directory!r} is {where}.", fix, at)
        homes = {f"the home of user {user!r}": self.home_of(user) for user in self.users}
        prefixes = {"openclaw_node.prefix": self.node.prefix, "openclaw_openclaw.prefix": self.openclaw.prefix}
        for what, path in {**homes, **prefixes}.items():
            if _within(directory, path) or _within(path, directory):
                raise _fail(f"backups directory {directory!r} is, or is nested with, {what} ({path}).", fix, at)
        return self

    def signal_gateway(self) -> Gateway | None:
        """The gateway carrying the Signal channel: the one ``signal.gateway`` names, else the first."""
        if self.signal is None:
            return None
        if self.signal.gateway is None:
            return self.gateways[0]
        return next((gateway for gateway in self.gateways if gateway.profile == self.signal.gateway), None)

    @model_validator(mode="after")
    def _signal_fits(self) -> Settings:
        """Signal on a host the Linux systemd deploy serves, carried by a gateway of it whose channel settings are
        the deploy's, with a socket path signal-cli and OpenClaw can both use."""
        if self.signal is None:
            return self
        self._on_linux_systemd_deploy("signal")
        gateway = self._carrying_gateway("signal", self.signal.gateway, self.signal_gateway())
        index = self.gateways.index(gateway)
        channels = gateway.extra_config.get("channels")
        managed = channels.get("signal") if isinstance(channels, dict) else None
        taken = sorted(set(managed or {}) & SIGNAL_MANAGED_KEYS) if isinstance(managed, dict) else []
        if taken:
            raise _fail(
                f"extra_config sets channels.signal.{taken[0]}, which {data_key('signal')} writes.",
                f"set it through {data_key('signal')} instead (extra_config may add other channels.signal keys).",
                at=("gateways", index, "extra_config", "channels", "signal", taken[0]),
            )
        socket = posixpath.join(self.state_dir_of(gateway), SIGNAL_SOCKET)
        if len(socket.encode()) > SIGNAL_SOCKET_MAX_BYTES:
            raise _fail(
                f"signal-cli's socket {socket} would be {len(socket.encode())} bytes long; a UNIX socket path "
                f"holds at most {SIGNAL_SOCKET_MAX_BYTES}.",
                "give the gateway's user a shorter home (service_home), or a shorter profile.",
                at=self._home_location(self.user_of(gateway)),
            )
        return self

    def _on_linux_systemd_deploy(self, field: str) -> None:
        """Refuse ``field`` on a host the Linux systemd deploy, which sets it up, does not serve."""
        if self.os_family != "linux" or self.isolation not in ("docker-isolation", "linux-vm"):
            raise _fail(
                f"{data_key(field)} is set up by the Linux systemd deploy; this host is {self.isolation!r} on "
                f"{self.os_family!r}.",
                f"remove {data_key(field)}, or set it on a Linux host of isolation 'docker-isolation' or 'linux-vm'.",
                at=(field,),
            )

    def _carrying_gateway(self, field: str, profile: str | None, gateway: Gateway | None) -> Gateway:
        """The gateway ``field.gateway`` names (``gateway``, looked up), refused when no gateway has ``profile``."""
        if gateway is None:
            profiles = ", ".join(repr(gateway.profile) for gateway in self.gateways if gateway.profile)
            raise _fail(
                f"no gateway has profile {profile!r}.",
                f"name one of the gateways' profiles ({profiles or 'none has one'}), or leave gateway out for the "
                "first.",
                at=(field, "gateway"),
            )
        return gateway

    def admin_agent_gateway(self) -> Gateway | None:
        """The gateway carrying the local admin agent: the one ``local_admin_agent.gateway`` names, else the first."""
        if self.local_admin_agent is None:
            return None
        wanted = self.local_admin_agent.gateway
        if wanted is None:
            return self.gateways[0]
        return next((gateway for gateway in self.gateways if gateway.profile == wanted), None)

    @model_validator(mode="after")
    def _admin_agent_kept_local(self) -> Settings:
        """The admin agent runs commands on the host unsandboxed: its gateway is reached from this host alone, and
        nothing an inventory adds routes a channel or another agent to it."""
        admin = self.local_admin_agent
        if admin is None:
            return self
        self._on_linux_systemd_deploy("local_admin_agent")
        gateway = self._carrying_gateway("local_admin_agent", admin.gateway, self.admin_agent_gateway())
        index = self.gateways.index(gateway)
        ssh_tunnel = "reach its Control UI through an SSH tunnel (ssh -N -L PORT:127.0.0.1:PORT host)"
        if gateway.bind != "loopback":
            raise _fail(
                f"gateway {gateway.label()} carries the unsandboxed local admin agent but has bind {gateway.bind!r}; "
                "the guide firewalls its port to localhost.",
                f"bind it to 'loopback' and {ssh_tunnel}, or carry the agent on a loopback gateway.",
                at=("gateways", index, "bind"),
            )
        served = self.tailscale is not None and self.tailscale.serve_https_port is not None and index == 0
        if served or gateway in [proxied for proxied, _ in self.proxied_gateways()]:
            how = "Tailscale Serve" if served else f"{data_key('reverse_proxy')}"
            raise _fail(
                f"gateway {gateway.label()} carries the unsandboxed local admin agent and is reached from other hosts "
                f"through {how}; the guide keeps it to localhost.",
                f"{ssh_tunnel}, or carry the agent on another gateway.",
                at=("local_admin_agent", "gateway"),
            )
        for path, reason in _routes_to_agent(gateway.extra_config, admin.agent_id):
            raise _fail(
                f"extra_config {reason}, a way to the local admin agent {admin.agent_id!r} other than the Control UI.",
                f"leave {admin.agent_id!r} out of it (the deploy writes the agent's definition itself).",
                at=("gateways", index, "extra_config", *path),
            )
        return self

    def user_location(self, user: str) -> Location:
        """Where ``user`` is named: service_user, or the first gateway naming it."""
        if user == self.service_user:
            return ("service_user",)
        return ("gateways", next(i for i, gateway in enumerate(self.gateways) if gateway.user == user), "user")

    def _home_location(self, user: str) -> Location:
        """What decides ``user``'s home: service_home, or the gateway's user name (its home is derived)."""
        return ("service_home",) if user == self.service_user else self.user_location(user)

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


# One-off requests to a lifecycle deploy (``--data openclaw_<name>=…``), not settings of the host: the deploy
# that reads each one checks it before any host is touched.
LIFECYCLE_REQUESTS = {
    "restore_backup": "deploys/restore.py",
    "rotate_gateways": "deploys/rotate_secrets.py",
    "approve_signal_pairing": "deploys/signal_pairing.py",
}


def data_key(field: str) -> str:
    return f"{DATA_PREFIX}{field}"


def data_path(location: Location) -> str:
    """A setting's place as the inventory writes it: ``("gateways", 0, "port")`` -> ``openclaw_gateways[0].port``."""
    if not location:
        return "settings"
    head, *rest = location
    text = data_key(str(head))
    for part in rest:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
