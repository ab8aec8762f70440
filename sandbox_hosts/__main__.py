"""``python -m sandbox_hosts image|guest-image|up|down|list|mirror|ssh``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from sandbox_hosts import guest_image, hosts, image, mirror_service, node_mirror, vm_host


def _cmd_image(_: argparse.Namespace) -> int:
    started = time.monotonic()
    rootfs = image.ensure_image()
    print(f"base image: {rootfs} (ready in {time.monotonic() - started:.1f}s; built in {image.build_seconds()}s)")
    return 0


def _cmd_guest_image(_: argparse.Namespace) -> int:
    started = time.monotonic()
    built = guest_image.ensure_guest_image()
    print(
        f"guest image: {built.directory} (ready in {time.monotonic() - started:.1f}s; built in "
        f"{guest_image.build_seconds()}s): Node {built.node_version}, OpenClaw {built.openclaw_version}; "
        f"in a VM host: {built.raw}, {built.kernel}, {built.initrd}"
    )
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.vm_host:
        booted = [vm_host.up_vm_host(name, login=args.login) for name in args.names]
    else:
        booted = hosts.up_many(args.names, login=args.login)
    for host in booted:
        print(f"{host.name}\t{host.address}")
    print(f"booted {len(booted)} host(s) in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    names = hosts.down_all() if args.all else args.names
    if not args.all:
        for name in names:
            hosts.down(name)
    print(f"down: {' '.join(names) or '(none)'}", file=sys.stderr)
    return 0


def _cmd_mirror(_: argparse.Namespace) -> int:
    print(mirror_service.ensure_running())
    return 0


def _cmd_list(_: argparse.Namespace) -> int:
    for host in hosts.list_hosts():
        state = "up" if host.is_alive() else "stale"
        print(f"{host.name}\t{host.address}\t{state}\tpid={host.pid}")
    return 0


def _cmd_ssh(args: argparse.Namespace) -> int:
    host = hosts.get_host(args.name)
    ssh = host.ssh_args()
    os.execvp(ssh[0], [*ssh, *args.command])  # noqa: S606 - replaces this process with ssh, by design


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox_hosts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("image", help="build the base image if it is not cached").set_defaults(func=_cmd_image)
    commands.add_parser(
        "guest-image", help="build the VM guest image (raw ext4, kernel, initrd) if it is not cached"
    ).set_defaults(func=_cmd_guest_image)
    up_parser = commands.add_parser("up", help="boot hosts")
    up_parser.add_argument("names", nargs="+", metavar="NAME")
    up_parser.add_argument(
        "--login", choices=hosts.LOGINS, default="root", help="root over SSH, or only a sudo user (admin)"
    )
    up_parser.add_argument(
        "--vm-host",
        action="store_true",
        help=f"hosts to run libvirt VMs in: the guest image at {vm_host.IMAGE_DIR}, libvirt not yet installed",
    )
    up_parser.set_defaults(func=_cmd_up)
    down_parser = commands.add_parser("down", help="halt hosts and remove every trace of them")
    down_parser.add_argument("names", nargs="*", metavar="NAME")
    down_parser.add_argument("--all", action="store_true")
    down_parser.set_defaults(func=_cmd_down)
    commands.add_parser("list", help="hosts that are up").set_defaults(func=_cmd_list)
    commands.add_parser("mirror", help="serve the Node mirror (replacing one another run left)").set_defaults(
        func=_cmd_mirror
    )
    ssh_parser = commands.add_parser("ssh", help="open a shell or run a command on a host")
    ssh_parser.add_argument("name")
    ssh_parser.add_argument("command", nargs=argparse.REMAINDER)
    ssh_parser.set_defaults(func=_cmd_ssh)
    args = parser.parse_args(argv)
    if args.command == "down" and not (args.names or args.all):
        parser.error("down needs host names or --all")
    try:
        return int(args.func(args))
    except (
        hosts.SandboxError,
        image.ImageBuildError,
        node_mirror.MirrorError,
        mirror_service.MirrorServiceError,
        subprocess.CalledProcessError,
        OSError,
    ) as error:
        # One line that says what failed: a user of the harness gets the reason, not a traceback.
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
