"""Build validated settings (and read their secrets) from pyinfra host data, before any host is touched.

Errors name the host, the inventory data key and the fix, for every host at once, so one run shows them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.hiddenvalue import HiddenValue

from openclaw_infra.secret_sources import SecretUnavailable, read_secret
from openclaw_infra.settings import (
    DATA_PREFIX,
    LIFECYCLE_REQUESTS,
    Gateway,
    SecretSource,
    Settings,
    data_key,
    data_path,
    settings_fields,
)

PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"
PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")

# Fixes for pydantic's own error types; our validators carry theirs in the message.
_GENERIC_FIXES = {
    "extra_forbidden": "remove it, or correct its spelling",
    "literal_error": "use one of the values listed",
    "missing": "add it",
    "greater_than_equal": "raise it to at least the bound named",
    "less_than_equal": "lower it to at most the bound named",
    "too_short": "add at least the number of items named",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "string_type": "write a string",
    "dict_type": "write a table (a dict)",
    "list_type": "write a list",
    "model_type": "write a table (a dict) of its settings",
    "string_pattern_mismatch": "write it in the form named",
}


class SettingsError(PyinfraError, ValueError):
    """Invalid settings for one or more hosts; ``problems`` are ready-to-print lines."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("OpenClaw settings are invalid; nothing was changed on any host:\n" + "\n".join(problems))


@dataclass(frozen=True)
class HostSettings:
    """A host's validated settings and the secrets each of its gateways gets, masked."""

    host_name: str
    settings: Settings
    secrets_by_gateway: dict[str | None, dict[str, HiddenValue]]
    # macos-vm: the admin password that replaces Lume's default (settings.macos_vm_admin_password), read.
    macos_vm_admin_password: HiddenValue | None = None
    # The key that logs a host's tailscale in (settings.tailscale.auth_key), read.
    tailscale_auth_key: HiddenValue | None = None
    # The reverse proxy's own certificate (settings.reverse_proxy, tls "certificate"): the chain as read, and its
    # key, read and masked.
    proxy_certificate: str | None = None
    proxy_certificate_key: HiddenValue | None = None

    def secrets_of(self, gateway: Gateway) -> dict[str, HiddenValue]:
        return self.secrets_by_gateway[gateway.profile]


def _where(error: Any, section: tuple[str, ...] = ()) -> str:
    """The data key of an error: pydantic's place for it, then the part our rules name below it (``at``)."""
    return data_path((*section, *error["loc"], *error.get("ctx", {}).get("at", ())))


def _describe(error: Any) -> str:
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "is not a setting"
    fix = _GENERIC_FIXES.get(error["type"])
    if fix and "Fix:" not in message:
        message += f". Fix: {fix}."
    # Pydantic prefixes messages of custom errors raised in validators with "Value error, ".
    return message.removeprefix("Value error, ")


def openclaw_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``openclaw_*`` keys of host data, as model field names."""
    return {key.removeprefix(DATA_PREFIX): value for key, value in data.items() if key.startswith(DATA_PREFIX)}


def _problems_of(host_name: str, data: Mapping[str, Any]) -> tuple[Settings | None, list[str]]:
    fields = openclaw_data(data)
    problems = [
        f"host {host_name!r}: {data_key(field)} is not a setting. Fix: remove it, or use one of "
        f"{', '.join(data_key(known) for known in settings_fields())}."
        for field in fields
        if field not in settings_fields() and field not in LIFECYCLE_REQUESTS
    ]
    try:
        settings = Settings.model_validate({key: value for key, value in fields.items() if key in settings_fields()})
    except ValidationError as error:
        for detail in error.errors():
            problems.append(f"host {host_name!r}: {_where(detail)}: {_describe(detail)}")
        return None, problems
    return settings, problems


def _read_secrets(host_name: str, settings: Settings, problems: list[str]) -> dict[str | None, dict[str, HiddenValue]]:
    # Keyed by the source's JSON: one source shared by several gateways is read (and its command run) once.
    values: dict[str, HiddenValue] = {}
    by_gateway: dict[str | None, dict[str, HiddenValue]] = {}
    for index, gateway in enumerate(settings.gateways):
        by_gateway[gateway.profile] = {}
        for secret_name, source in settings.secrets_for(gateway).items():
            key = source.model_dump_json()
            if key not in values:
                try:
                    values[key] = read_secret(source)
                except SecretUnavailable as error:
                    where = (
                        f"{data_key('gateways')}[{index}].secrets.{secret_name}"
                        if secret_name in gateway.secrets
                        else f"{data_key('secrets')}.{secret_name}"
                    )
                    problems.append(
                        f"host {host_name!r}: {where}: {error}. Fix: provide a non-empty value there "
                        "(optional keys not in use take a placeholder such as 'not-configured')."
                    )
                    continue
            by_gateway[gateway.profile][secret_name] = values[key]
    return by_gateway


def _read_optional_secret(
    host_name: str, source: SecretSource | None, where: str, problems: list[str], multiline: bool = False
) -> HiddenValue | None:
    """A secret the settings may name beside the gateways' (``where``: its data key), read; None when not named."""
    if source is None:
        return None
    try:
        return read_secret(source, multiline)
    except SecretUnavailable as error:
        problems.append(f"host {host_name!r}: {where}: {error}. Fix: provide it there.")
        return None


def _read_certificate(host_name: str, path: str | None, problems: list[str]) -> str | None:
    """The proxy's certificate chain from its file on the control machine: PEM, one certificate at least."""
    if path is None:
        return None
    where = f"host {host_name!r}: {data_key('reverse_proxy')}.certificate"
    try:
        text = Path(path).expanduser().read_text()
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"{where}: {path} cannot be read ({error}). Fix: point it at your PEM certificate chain.")
        return None
    if PEM_CERTIFICATE not in text or PEM_PRIVATE_KEY.search(text):
        problems.append(
            f"{where}: {path} is not a PEM certificate chain (or it holds a private key, which belongs in "
            "certificate_key). Fix: point it at the chain alone, its key in certificate_key."
        )
        return None
    return text


def _valid_settings(
    hosts: Iterable[tuple[str, Mapping[str, Any]]], problems: list[str]
) -> Iterator[tuple[str, Settings]]:
    """Each host whose settings are valid, with them; every problem of the others added to ``problems``."""
    for host_name, data in hosts:
        settings, host_problems = _problems_of(host_name, data)
        problems += host_problems
        if settings is not None:
            yield host_name, settings


def validated_settings(hosts: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Settings]:
    """Every host's settings validated, without reading any secret; one ``SettingsError`` listing all problems."""
    problems: list[str] = []
    result = dict(_valid_settings(hosts, problems))
    if problems:
        raise SettingsError(problems)
    return result


def settings_for_hosts(hosts: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, HostSettings]:
    """Validate every host's settings and read their secrets; raise one ``SettingsError`` listing all problems."""
    problems: list[str] = []
    result: dict[str, HostSettings] = {}
    for host_name, settings in _valid_settings(hosts, problems):
        secrets = _read_secrets(host_name, settings, problems)
        admin_password = _read_optional_secret(
            host_name, settings.macos_vm_admin_password, data_key("macos_vm_admin_password"), problems
        )
        auth_key = _read_optional_secret(
            host_name,
            settings.tailscale.auth_key if settings.tailscale else None,
            f"{data_key('tailscale')}.auth_key",
            problems,
        )
        proxy = settings.reverse_proxy
        key_source = proxy.certificate_key if proxy else None
        where = f"{data_key('reverse_proxy')}.certificate_key"
        certificate_key = _read_optional_secret(host_name, key_source, where, problems, multiline=True)
        if certificate_key is not None and not PEM_PRIVATE_KEY.search(certificate_key.unmask()):
            problems.append(f"host {host_name!r}: {where}: holds no PEM private key. Fix: point it at the key.")
        certificate = _read_certificate(host_name, proxy.certificate if proxy else None, problems)
        result[host_name] = HostSettings(
            host_name, settings, secrets, admin_password, auth_key, certificate, certificate_key
        )
    if problems:
        raise SettingsError(problems)
    return result


SectionModel = TypeVar("SectionModel", bound=BaseModel)


def section_for_host(host_name: str, field: str, model: type[SectionModel], value: Any) -> SectionModel:
    """One top-level setting validated alone, errors worded like the whole model's: for hosts that are not
    gateways (a control host scheduling drift checks need not name a gateway token)."""
    try:
        return model.model_validate(value if value is not None else {})
    except ValidationError as error:
        raise SettingsError(
            [f"host {host_name!r}: {_where(detail, (field,))}: {_describe(detail)}" for detail in error.errors()]
        ) from None


def settings_for_host(host_name: str, data: Mapping[str, Any]) -> HostSettings:
    return settings_for_hosts([(host_name, data)])[host_name]
