"""The guide's "Rotate credentials" for the gateways' own secret: a new random token (or password) per gateway,
stored where the settings read it, delivered to the host, the gateway restarted on it and verified."""

from __future__ import annotations

import dataclasses
import os
import weakref
from typing import Any

from pyinfra.api.deploy import deploy
from pyinfra.api.hiddenvalue import HiddenValue
from pyinfra.context import ctx_state, host

from openclaw_infra.deploy_context import current_settings
from openclaw_infra.deploys.gateway_lifecycle import current_settings_of, require_systemd_gateways
from openclaw_infra.deploys.linux_gateway import gateway_files, systemd_service
from openclaw_infra.host_settings import SettingsError
from openclaw_infra.operations import secret_sources, verification
from openclaw_infra.secret_sources import new_gateway_secret
from openclaw_infra.settings import AUTH_SECRET, Gateway, Settings, data_key

ROTATE_KEY = data_key("rotate_gateways")  # one of settings.LIFECYCLE_REQUESTS
# One new value per source and run: hosts (and gateways) sharing a source get the same one.
_new_values: weakref.WeakKeyDictionary[Any, dict[str, HiddenValue]] = weakref.WeakKeyDictionary()


def _requested(data: Any, settings: Settings) -> tuple[list[Gateway], str | None]:
    """The gateways ``--data openclaw_rotate_gateways=a,b`` names (all when absent), or why the request is bad."""
    wanted = data.get(ROTATE_KEY)
    if wanted is None:
        return list(settings.gateways), None
    names = [name.strip() for name in (wanted.split(",") if isinstance(wanted, str) else wanted) if name.strip()]
    services = [gateway.service_name for gateway in settings.gateways]
    unknown = [name for name in names if name not in services]
    if not names or unknown:
        return [], (
            f"{ROTATE_KEY} {wanted!r} names no gateway of this host ({', '.join(unknown) or 'empty'}). "
            f"Fix: name some of {', '.join(services)}, comma-separated, or leave it out for all."
        )
    return [gateway for gateway in settings.gateways if gateway.service_name in names], None


def _check_requests() -> None:
    inventory = ctx_state.get().inventory  # type: ignore[no-untyped-call]
    problems = []
    for inventory_host in inventory:
        _, problem = _requested(inventory_host.data, current_settings_of(inventory_host.name))
        if problem:
            problems.append(f"host {inventory_host.name!r}: {problem}")
    if problems:
        raise SettingsError(problems)


@deploy("OpenClaw secret rotation")
def secrets_rotated() -> None:
    """Each requested gateway's auth secret (``OPENCLAW_GATEWAY_TOKEN``, or ``..._PASSWORD`` with password auth)
    replaced by a new random one: its source rewritten when it is a file (else the value left for the operator,
    see ``secret_sources.rotated_secret_stored``), the host's secrets file rewritten, the gateway restarted and
    the host verified. A gateway sharing the source gets the same new value (and is restarted too)."""
    require_systemd_gateways("deploys/rotate_secrets.py")
    _check_requests()
    host_settings = current_settings()
    settings = host_settings.settings
    requested, _ = _requested(host.data, settings)
    values = _new_values.setdefault(ctx_state.get(), {})  # type: ignore[no-untyped-call]
    rotated: dict[str, tuple[str, Any]] = {}  # source key -> (secret name, source)
    for gateway in requested:
        secret_name = AUTH_SECRET.get(gateway.auth_mode)
        if secret_name is None:
            continue  # auth_mode "none": no secret of its own (the settings allow that on loopback only)
        source = settings.secrets_for(gateway)[secret_name]
        key = source.model_dump_json()
        values.setdefault(key, new_gateway_secret())
        rotated[key] = (secret_name, source)
    secrets_by_gateway = {profile: dict(found) for profile, found in host_settings.secrets_by_gateway.items()}
    affected = []
    for gateway in settings.gateways:
        for secret_name, source in settings.secrets_for(gateway).items():
            if source.model_dump_json() in rotated:
                secrets_by_gateway[gateway.profile][secret_name] = values[source.model_dump_json()]
                if gateway not in affected:
                    affected.append(gateway)
    for key, (secret_name, source) in rotated.items():
        owners = [gateway.service_name for gateway in affected if key in _source_keys(settings, gateway)]
        delivery = os.path.join(
            os.path.expanduser(settings.rotated_secrets_dir), host.name, f"{owners[0]}.{secret_name}"
        )
        secret_sources.rotated_secret_stored(
            name=f"{', '.join(owners)}: new {secret_name} stored for the next runs",
            secret_name=secret_name,
            source=source,
            value=values[key],
            delivery_path=delivery,
        )
    rotated_settings = dataclasses.replace(host_settings, secrets_by_gateway=secrets_by_gateway)
    for gateway in affected:
        systemd_service(settings, gateway, gateway_files(rotated_settings, gateway))
    verification.host_verified(name=verification.VERIFY_OPERATION, host_settings=rotated_settings)


def _source_keys(settings: Settings, gateway: Gateway) -> set[str]:
    return {source.model_dump_json() for source in settings.secrets_for(gateway).values()}
