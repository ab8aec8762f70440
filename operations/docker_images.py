"""Docker images built on the host with no registry (a Debian base made by debootstrap, the containerized gateway's
image, the agents' sandbox image) or pulled by digest. Each built image carries a label digesting what it was built
from, so it is rebuilt exactly when that changes."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Generator
from importlib import resources

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host

from openclaw_infra.facts.docker_containers import DockerImage
from openclaw_infra.operations.private_upload import private_upload
from openclaw_infra.quoting import quoted
from openclaw_infra.rendering import render

LABEL_PREFIX = "org.pyinfra-openclaw"
BUILD_LABEL = f"{LABEL_PREFIX}.build"
BASE_SUITE = "bookworm"
# The containerized gateway's base: certificates for the model providers, nothing else.
BASE_IMAGE = "openclaw-infra/debian:bookworm"
BASE_PACKAGES = ["ca-certificates"]
# The agents' sandbox: OpenClaw's default sandbox image's packages (its sandbox helpers need python3).
SANDBOX_BASE_IMAGE = "openclaw-infra/debian-sandbox:bookworm"
SANDBOX_BASE_PACKAGES = ["bash", "ca-certificates", "curl", "git", "jq", "python3", "ripgrep"]
SANDBOX_IMAGE = "openclaw-infra/sandbox:bookworm"
# Root-only: the build contexts hold copies of the installed Node and OpenClaw, the bases whole root file systems.
BUILD_DIR = "/var/lib/openclaw-infra/image-build"
ENTRYPOINT = "/usr/local/lib/openclaw-infra/entrypoint.mjs"
ENTRYPOINT_SOURCE = resources.files("openclaw_infra.templates") / "container" / "entrypoint.mjs"


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


@operation()
def debian_base_image(reference: str, packages: list[str], mirror: str) -> Generator[StringCommand, None, None]:
    """
    A minimal Debian 12 image made by ``debootstrap --variant=minbase`` from ``mirror`` with ``packages``, imported
    into Docker as ``reference``: the base of the images this project builds, with no registry. Made once; kept
    while it exists.

    + reference: the image's name and tag, e.g. ``openclaw-infra/debian:bookworm``
    + packages: what debootstrap adds to minbase, e.g. ``["ca-certificates"]``
    + mirror: the Debian mirror debootstrap reads, e.g. ``http://deb.debian.org/debian``
    """
    if host.get_fact(DockerImage, reference=reference):
        host.noop(f"image {reference} exists")
        return
    rootfs = posixpath.join(BUILD_DIR, "rootfs")
    yield StringCommand("rm", "-rf", quoted(rootfs), "&&", "mkdir", "-p", "-m", "700", quoted(BUILD_DIR))
    yield StringCommand(
        "debootstrap", "--variant=minbase", quoted(f"--include={','.join(packages)}"), BASE_SUITE, quoted(rootfs),
        quoted(mirror), ">", quoted(posixpath.join(BUILD_DIR, "debootstrap.log")), "2>&1",
    )  # fmt: skip
    yield StringCommand(
        "tar", "-C", quoted(rootfs), "-c", ".", "|", "docker", "import", "--change",
        quoted(f"LABEL {LABEL_PREFIX}.base={BASE_SUITE}"), "-", quoted(reference),
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
    copies = StringCommand(
        # `<prefix>/.`: the contents, through the prefix's symlink; symlinks inside (npm's bin links) stay links.
        "cp", "-a", quoted(f"{node_prefix}/."), quoted(f"{context}/node"), "&&",
        "cp", "-a", quoted(f"{openclaw_prefix}/."), quoted(f"{context}/openclaw"),
    )  # fmt: skip
    yield from _built(reference, wanted, context, {"Dockerfile": dockerfile, "entrypoint.mjs": entrypoint}, copies)


def _built(
    reference: str, label: str, context: str, files: dict[str, str], copies: StringCommand | None = None
) -> Generator[PyinfraCommand, None, None]:
    """Build ``reference`` in a fresh root-only ``context`` holding ``files`` (and what ``copies`` puts there),
    labelled with ``label``; the context is removed afterwards."""
    yield StringCommand("rm", "-rf", quoted(context), "&&", "mkdir", "-p", "-m", "700", quoted(context))
    if copies:
        yield copies
    for name, content in files.items():
        yield from private_upload(content, posixpath.join(context, name))
    yield StringCommand(
        "docker", "build", "--quiet", "--label", quoted(f"{BUILD_LABEL}={label}"), "--tag", quoted(reference),
        quoted(context), ">", "/dev/null",
    )  # fmt: skip
    yield StringCommand("rm", "-rf", quoted(context))


@operation()
def sandbox_image(reference: str, base_image: str) -> Generator[PyinfraCommand, None, None]:
    """
    The agents' sandbox image ``reference``, OpenClaw's own default sandbox image (its docs' inline Dockerfile:
    bash, certificates, curl, git, jq, python3, ripgrep, a non-root ``sandbox`` user, ``sleep infinity``) built on
    ``base_image`` (debootstrapped with those packages) instead of a registry's ``debian:bookworm-slim``. Rebuilt when
    its Dockerfile changes.

    + reference: the image's name and tag, e.g. ``openclaw-infra/sandbox:bookworm``
    + base_image: the Debian base holding the packages, e.g. ``openclaw-infra/debian-sandbox:bookworm``
    """
    dockerfile = render("container/Dockerfile.sandbox.j2", base_image=base_image)
    wanted = hashlib.sha256(dockerfile.encode()).hexdigest()[:16]
    present = host.get_fact(DockerImage, reference=reference)
    if present and present.labels.get(BUILD_LABEL) == wanted:
        host.noop(f"image {reference} is built from the current Dockerfile")
        return
    yield from _built(reference, wanted, posixpath.join(BUILD_DIR, "sandbox"), {"Dockerfile": dockerfile})


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


