"""Operations that take the settings model, callable with the settings as the inventory writes them.

pyinfra-testing builds an operation's kwargs from JSON and knows dataclasses, not pydantic models or
``HiddenValue``; these wrappers build those from the JSON and run the real operation, so its fixtures stay plain
JSON.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from pyinfra.api.hiddenvalue import HiddenValue
from pyinfra.api.operation import operation
from pyinfra.context import ctx_host, ctx_state, host

from openclaw_infra.facts.batch import FactBatch
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.host_settings import HostSettings
from openclaw_infra.operations import gateway_container as gateway_container_operations
from openclaw_infra.operations import openclaw_upgrade, preflight, secret_files, tailscale, verification, vm_addresses
from openclaw_infra.operations.openclaw_upgrade import UpgradedGateway
from openclaw_infra.settings import Settings, VmHost
from openclaw_infra.vm_host_settings import VmHostSettings


@operation(is_idempotent=True)
def host_ready(settings: dict[str, Any]) -> Generator[str, None, None]:
    yield from preflight.host_ready._inner(settings=Settings.model_validate(settings))


@operation()
def secret_file(path: str, content: str, user: str = "root", group: str = "root", mode: int = 600) -> Generator[Any]:
    """The secret as the fixture's plain string, wrapped as the deploy wraps it."""
    hidden = HiddenValue(content)  # type: ignore[no-untyped-call]
    yield from secret_files.secret_file._inner(path=path, content=hidden, user=user, group=group, mode=mode)


@operation()
def secret_file_over_sudo(
    path: str, content: str, user: str = "root", group: str = "root", mode: int = 600
) -> Generator[Any]:
    """As ``secret_file``, in an operation run with ``_sudo`` (pyinfra sets this while it runs one)."""
    host.current_op_global_arguments = {"_sudo": True}  # type: ignore[typeddict-item]
    try:
        yield from secret_file._inner(path=path, content=content, user=user, group=group, mode=mode)
    finally:
        host.current_op_global_arguments = None


@operation()
def node_tagged(tag: str, ssh: bool, auth_key: str | None = None) -> Generator[Any]:
    """The auth key as the fixture's plain string, wrapped as the deploy wraps it."""
    hidden = None if auth_key is None else HiddenValue(auth_key)  # type: ignore[no-untyped-call]
    yield from tailscale.node_tagged._inner(tag=tag, ssh=ssh, auth_key=hidden)


def _host_settings(settings: dict[str, Any], secrets: dict[str, str]) -> HostSettings:
    model = Settings.model_validate(settings)
    hidden = {name: HiddenValue(value) for name, value in secrets.items()}  # type: ignore[no-untyped-call]
    return HostSettings("fixture", model, {gateway.profile: hidden for gateway in model.gateways})


@operation(is_idempotent=True)
def host_verified(settings: dict[str, Any], secrets: dict[str, str]) -> Generator[Any]:
    """While the deploy is planned (pyinfra-testing's state never executes)."""
    yield from verification.host_verified._inner(host_settings=_host_settings(settings, secrets))


@contextmanager
def _executing_with_plain_facts() -> Iterator[None]:
    """As the deploy runs an operation: the state executing, and facts handed over as plain JSON values, the form
    the real facts are turned into (pyinfra-testing wraps them in objects of its own)."""
    fake_host = ctx_host.get()  # type: ignore[no-untyped-call]
    read_fact = fake_host.get_fact

    def plain(value: Any) -> Any:
        return getattr(value, "data", value)

    def plain_fact(fact_class: Any, *args: Any, **kwargs: Any) -> Any:
        value = read_fact(fact_class, *args, **kwargs)
        if fact_class is FactBatch:
            return [[name, plain(part)] for name, part in value]
        return plain(value)

    executing = patch.object(type(ctx_state.get()), "is_executing", True)  # type: ignore[no-untyped-call]
    with executing, patch.object(fake_host, "get_fact", plain_fact):
        yield


@operation(is_idempotent=True)
def host_verified_after_the_run(settings: dict[str, Any], secrets: dict[str, str]) -> Generator[Any]:
    """As the deploy runs it (``_executing_with_plain_facts``)."""
    with _executing_with_plain_facts():
        yield from verification.host_verified._inner(host_settings=_host_settings(settings, secrets))


def _vm_host_settings(vm_host: dict[str, Any]) -> VmHostSettings:
    return VmHostSettings("vmhost1.example.net", VmHost.model_validate(vm_host), {})


@operation(is_idempotent=True)
def vm_host_verified(vm_host: dict[str, Any]) -> Generator[Any]:
    """While the deploy is planned."""
    yield from verification.vm_host_verified._inner(vm_host_settings=_vm_host_settings(vm_host))


@operation(is_idempotent=True)
def vm_host_verified_after_the_run(vm_host: dict[str, Any]) -> Generator[Any]:
    """As the deploy runs it (``_executing_with_plain_facts``)."""
    with _executing_with_plain_facts():
        yield from verification.vm_host_verified._inner(vm_host_settings=_vm_host_settings(vm_host))


@operation(is_idempotent=True)
def vm_addresses_after_the_run(
    hypervisor: str, vm_names: list[str], uri: str = "qemu:///system", wait_seconds: int = 0
) -> Generator[Any]:
    """As the deploy runs it: the addresses are read only once the VMs run."""
    executing = patch.object(type(ctx_state.get()), "is_executing", True)  # type: ignore[no-untyped-call]
    with executing:
        yield from vm_addresses.vm_addresses._inner(
            hypervisor=hypervisor, vm_names=vm_names, uri=uri, wait_seconds=wait_seconds
        )


@operation()
def gateway_container(settings: dict[str, Any], gateway_index: int = 0) -> Generator[Any]:
    """The container of the settings' gateway ``gateway_index``."""
    model = Settings.model_validate(settings)
    yield from gateway_container_operations.gateway_container._inner(
        settings=model, gateway=model.gateways[gateway_index]
    )


@operation(is_idempotent=True)
def container_host_verified(settings: dict[str, Any], secrets: dict[str, str]) -> Generator[Any]:
    """While the deploy is planned."""
    yield from verification.container_host_verified._inner(host_settings=_host_settings(settings, secrets))


@operation(is_idempotent=True)
def container_host_verified_after_the_run(settings: dict[str, Any], secrets: dict[str, str]) -> Generator[Any]:
    """As the deploy runs it (``_executing_with_plain_facts``)."""
    with _executing_with_plain_facts():
        yield from verification.container_host_verified._inner(host_settings=_host_settings(settings, secrets))


def _upgraded_gateways(gateways: list[dict[str, Any]], settings: dict[str, Any]) -> list[UpgradedGateway]:
    """Each ``{"index": i, "archive": path|None}`` as the deploy builds it from the settings' gateway ``i``."""
    model = Settings.model_validate(settings)
    return [
        UpgradedGateway(
            paths=GatewayPaths(model, model.gateways[item["index"]]),
            port=model.gateways[item["index"]].port,
            pre_upgrade_archive=item["archive"],
        )
        for item in gateways
    ]


@operation()
def upgrade_healthy_or_rolled_back(
    version: str, prefix: str, previous_release: str | None, gateways: list[dict[str, Any]], settings: dict[str, Any]
) -> Generator[Any]:
    """While the deploy is planned."""
    yield from openclaw_upgrade.upgrade_healthy_or_rolled_back._inner(
        version=version, prefix=prefix, previous_release=previous_release,
        gateways=_upgraded_gateways(gateways, settings),
    )  # fmt: skip


@operation()
def upgrade_healthy_or_rolled_back_after_the_run(
    version: str, prefix: str, previous_release: str | None, gateways: list[dict[str, Any]], settings: dict[str, Any]
) -> Generator[Any]:
    """As the deploy runs it (``_executing_with_plain_facts``), after the restarts."""
    with _executing_with_plain_facts():
        yield from openclaw_upgrade.upgrade_healthy_or_rolled_back._inner(
            version=version, prefix=prefix, previous_release=previous_release,
            gateways=_upgraded_gateways(gateways, settings),
        )  # fmt: skip


@operation(is_idempotent=True)
def contained_verified_after_the_run(units: list[str], ports: list[int]) -> Generator[Any]:
    """As the run executes it (``_executing_with_plain_facts``)."""
    with _executing_with_plain_facts():
        yield from verification.contained_verified._inner(units=units, ports=ports)
