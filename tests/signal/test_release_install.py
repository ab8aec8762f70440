"""The shell ``java_runtime`` and ``signal_cli`` run to install a release, run for real (sh, GNU tar, sha256sum) on a
scratch directory, with ``curl`` replaced by a copy of a local archive: the archive's checksum decides, nothing of
a refused archive is left, and what is unpacked is root's and closed to others whatever the archive says."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from openclaw_infra.facts.signal_cli import CHECKSUM_FILE
from openclaw_infra.operations.signal_cli import _download_and_unpack

URL = "https://github.com/AsamK/signal-cli/releases/download/v0.14.5/signal-cli-0.14.5.tar.gz"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs root's files (install -o root)")


def archive(tmp_path: Path) -> Path:
    """A release tarball as upstream ships one (a top directory), with a file owned by another uid and open to
    group writes, and a file that is not executable."""
    source = tmp_path / "signal-cli-0.14.5"
    (source / "bin").mkdir(parents=True)
    (source / "lib").mkdir()
    launcher = source / "bin" / "signal-cli"
    launcher.write_text("#!/bin/sh\necho signal-cli 0.14.5\n")
    launcher.chmod(0o775)
    jar = source / "lib" / "signal-cli-0.14.5.jar"
    jar.write_text("jar")
    jar.chmod(0o664)
    path = tmp_path / "release.tar.gz"
    with tarfile.open(path, "w:gz") as tar:

        def foreign(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid, info.gid, info.uname, info.gname = 1234, 1234, "builder", "builder"
            return info

        tar.add(source, arcname=source.name, filter=foreign)
    return path


def run(tmp_path: Path, command: str, tarball: Path) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "fakebin"
    fake.mkdir(exist_ok=True)
    # curl … -o FILE URL: the URL's archive is the local one.
    (fake / "curl").write_text(
        f'#!/bin/sh\nwhile [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift;; esac; shift; done\ncp {tarball} "$out"\n'
    )
    (fake / "curl").chmod(0o755)
    environment = {"PATH": f"{fake}:/usr/bin:/bin"}
    return subprocess.run(["sh", "-c", command], env=environment, capture_output=True, text=True)


def test_an_archive_with_the_pinned_checksum_is_unpacked_root_s(tmp_path: Path) -> None:
    tarball = archive(tmp_path)
    sha256 = hashlib.sha256(tarball.read_bytes()).hexdigest()
    base = tmp_path / "opt" / "signal-cli"
    command = _download_and_unpack(str(base), "0.14.5", URL, sha256, "bin/signal-cli").get_raw_value()
    result = run(tmp_path, command, tarball)
    assert result.returncode == 0, result.stderr
    release = base / "0.14.5"
    assert (release / CHECKSUM_FILE).read_text().strip() == sha256
    assert (release / "bin" / "signal-cli").read_text().startswith("#!/bin/sh")
    for path in [release, *release.rglob("*")]:
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (0, 0), path
        assert not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH), path
    assert os.access(release / "bin" / "signal-cli", os.X_OK)
    # Only the release is left: the scratch directory went with the shell.
    assert [path.name for path in base.iterdir()] == ["0.14.5"]


def test_an_archive_with_another_checksum_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    tarball = archive(tmp_path)
    base = tmp_path / "opt" / "signal-cli"
    (base / "0.14.5").mkdir(parents=True)
    (base / "0.14.5" / "kept").write_text("the release in place before")
    command = _download_and_unpack(str(base), "0.14.5", URL, "0" * 64, "bin/signal-cli").get_raw_value()
    result = run(tmp_path, command, tarball)
    assert result.returncode == 1
    assert f"{URL} does not have the pinned sha256 {'0' * 64}; nothing installed" in result.stderr
    assert sorted(path.name for path in base.iterdir()) == ["0.14.5"]
    assert [path.name for path in (base / "0.14.5").iterdir()] == ["kept"]


def test_an_archive_without_the_launcher_is_refused(tmp_path: Path) -> None:
    tarball = archive(tmp_path)
    sha256 = hashlib.sha256(tarball.read_bytes()).hexdigest()
    base = tmp_path / "opt" / "java"
    command = _download_and_unpack(str(base), "25.0.4+7", URL, sha256, "bin/java").get_raw_value()
    result = run(tmp_path, command, tarball)
    assert result.returncode != 0
    assert list(base.iterdir()) == []
