"""The sandbox base image: a Debian root file system built once, cached, and shared read-only by every host."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from sandbox_hosts import config


class ImageBuildError(RuntimeError):
    pass


def image_key() -> str:
    recipe = {
        "suite": config.DEBIAN_SUITE,
        "bootstrap": config.BOOTSTRAP_PACKAGES,
        "packages": config.IMAGE_PACKAGES,
        "masked": config.MASKED_UNITS,
        "recipe": config.IMAGE_RECIPE_VERSION,
        "templates": [harness_file("ssh-host-keys.conf"), harness_file("sshd-sandbox.conf")],
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def image_dir() -> Path:
    return config.CACHE_DIR / "images" / f"debian-{config.DEBIAN_SUITE}-{image_key()}"


def image_rootfs() -> Path:
    return image_dir() / "rootfs"


def harness_file(filename: str) -> str:
    """A file the harness writes into hosts; they live beside it, not in the installed package."""
    return (Path(__file__).parent / "files" / filename).read_text()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    if result.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
        raise ImageBuildError(f"{args[0]} failed with exit {result.returncode}; last lines of {log}:\n{tail}")


@contextlib.contextmanager
def _chroot_mounts(rootfs: Path) -> Iterator[None]:
    mounted: list[Path] = []
    try:
        for source, fstype in (("proc", "proc"), ("sysfs", "sysfs"), ("devpts", "devpts")):
            target = rootfs / {"proc": "proc", "sysfs": "sys", "devpts": "dev/pts"}[source]
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "-t", fstype, source, str(target)], check=True)
            mounted.append(target)
        yield
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", str(target)], check=False)


def _customise(rootfs: Path, log: Path) -> None:
    # CA certificates first: apt inside the chroot goes through the same TLS inspection as the machine.
    ca_target = rootfs / "usr/local/share/ca-certificates"
    ca_target.mkdir(parents=True, exist_ok=True)
    if config.MACHINE_EXTRA_CA_DIR.is_dir():
        for certificate in config.MACHINE_EXTRA_CA_DIR.glob("*.crt"):
            shutil.copy2(certificate, ca_target / certificate.name)
    resolv = rootfs / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    shutil.copy2("/etc/resolv.conf", resolv)

    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    with _chroot_mounts(rootfs):
        _run(["chroot", str(rootfs), "update-ca-certificates"], log, env)
        _run(["chroot", str(rootfs), "apt-get", "update", "-q"], log, env)
        _run(
            [
                "chroot",
                str(rootfs),
                "apt-get",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                *config.IMAGE_PACKAGES,
            ],
            log,
            env,
        )
        _run(["chroot", str(rootfs), "apt-get", "clean"], log, env)

    for host_key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        host_key.unlink()
    dropin = rootfs / "etc/systemd/system/ssh.service.d"
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "host-keys.conf").write_text(harness_file("ssh-host-keys.conf"))
    (rootfs / "etc/ssh/sshd_config.d/sandbox.conf").write_text(harness_file("sshd-sandbox.conf"))
    # Kernel modules and the root mount are the machine's business; under load these units failed now and
    # then inside containers, leaving the host "degraded".
    for unit in config.MASKED_UNITS:
        mask = rootfs / "etc/systemd/system" / unit
        mask.unlink(missing_ok=True)
        mask.symlink_to("/dev/null")
    # An empty machine-id makes systemd generate one per host at boot.
    (rootfs / "etc/machine-id").write_text("")
    resolv.unlink()
    resolv.write_text("")


def _installed_packages(rootfs: Path) -> set[str]:
    status = (rootfs / "var/lib/dpkg/status").read_text()
    installed = set()
    for stanza in status.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " ")
        if fields.get("Status") == "install ok installed":
            installed.add(fields["Package"])
    return installed


def image_damage(rootfs: Path) -> str | None:
    """Why a cached image cannot be trusted, or None: every package of the recipe installed with every file it
    ships still there, and the harness's own files as the recipe writes them."""
    try:
        installed = _installed_packages(rootfs)
    except OSError as error:
        return f"no dpkg database ({error.strerror})"
    info = rootfs / "var/lib/dpkg/info"
    for package in (*config.BOOTSTRAP_PACKAGES, *config.IMAGE_PACKAGES):
        if package not in installed:
            return f"package {package} is not installed"
        listing = next((path for path in info.glob(f"{package}*.list") if path.stem.split(":")[0] == package), None)
        if listing is None:
            return f"package {package} has no file list"
        for line in listing.read_text().splitlines():
            if line not in ("", "/.") and not os.path.lexists(rootfs / line.lstrip("/")):
                return f"{line} of package {package} is missing"
    expected = {
        "etc/systemd/system/ssh.service.d/host-keys.conf": harness_file("ssh-host-keys.conf"),
        "etc/ssh/sshd_config.d/sandbox.conf": harness_file("sshd-sandbox.conf"),
    }
    for relative, content in expected.items():
        path = rootfs / relative
        if not path.is_file() or path.read_text() != content:
            return f"/{relative} is not the recipe's"
    return None


# Images checked by this process: the check reads ~20k paths, once is enough.
_verified: set[Path] = set()


def ensure_image(log: Path | None = None) -> Path:
    """Return the cached base image's root file system, building it first when it is missing or damaged."""
    target = image_dir()
    marker = target / "complete"
    if target in _verified and marker.exists():
        return image_rootfs()
    with _locked(config.CACHE_DIR / "images" / ".build.lock"):
        if marker.exists():
            damage = image_damage(image_rootfs())
            if damage is None:
                _verified.add(target)
                return image_rootfs()
            if str(target) in Path("/proc/mounts").read_text():
                raise ImageBuildError(f"the cached image {target} is damaged ({damage}) and a running host uses it")
            print(f"the cached image {target} is damaged ({damage}): rebuilding it", flush=True)
        for tool in ("debootstrap", "systemd-nspawn"):
            if shutil.which(tool) is None:
                raise ImageBuildError(f"{tool} is not installed; run scripts/setup.sh (apt packages) first.")
        started = time.monotonic()
        if target.exists():
            shutil.rmtree(target)  # a build that died half-way
        rootfs = target / "rootfs"
        rootfs.mkdir(parents=True)
        build_log = log or target / "build.log"
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(config.BOOTSTRAP_PACKAGES)}",
                config.DEBIAN_SUITE,
                str(rootfs),
                config.DEBIAN_MIRROR,
            ],
            build_log,
        )
        _customise(rootfs, build_log)
        damage = image_damage(rootfs)
        if damage is not None:
            raise ImageBuildError(f"the freshly built image fails its own check: {damage}")
        marker.write_text(json.dumps({"built_seconds": round(time.monotonic() - started, 1)}))
        _verified.add(target)
        prune_old_images(keep=target)
    return image_rootfs()


def prune_old_images(keep: Path) -> None:
    """Drop images of earlier recipes (each is ~600 MB) unless a running host still has it as its lower layer."""
    mounts = Path("/proc/mounts").read_text()
    for candidate in (config.CACHE_DIR / "images").glob("debian-*"):
        if candidate != keep and candidate.is_dir() and str(candidate) not in mounts:
            shutil.rmtree(candidate, ignore_errors=True)


def build_seconds() -> float | None:
    marker = image_dir() / "complete"
    if not marker.exists():
        return None
    return float(json.loads(marker.read_text())["built_seconds"])
