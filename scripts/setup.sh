#!/usr/bin/env bash
# Everything this project needs on a fresh Debian 12 machine, as root. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  systemd-container   # systemd-nspawn boots the sandbox hosts
  debootstrap         # builds their base image
  e2fsprogs           # mkfs.ext4 -d: the VM guest image (sandbox_hosts/guest_image.py)
  iptables iproute2   # their network namespaces and NAT
  openssh-client      # the harness's own readiness checks
  python3-venv
  libvirt-clients     # virsh's test driver for the VM-list facts
  logrotate           # the quoting tests run the rendered rotation config for real
  curl xz-utils ca-certificates
)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "==> apt-get install ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
# requirements.lock pins every Python dependency to the versions the test suite last passed with.
.venv/bin/pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'

echo "==> sandbox base image (built once, cached under /var/cache/openclaw-infra)"
.venv/bin/python -m sandbox_hosts image
