"""Uploading a file nobody else may read, not even for a moment, whether pyinfra logs in as root, as a sudo user,
or runs ``@local``.

With ``_sudo`` pyinfra cannot SFTP into a root-only directory: it uploads as the login user to a temporary file
and copies that into place with sudo. SFTP creates a new file with the server's default mode (0644 under the
usual umask), and pyinfra's default temporary file lives in ``/tmp``: a secret would be readable there until the
copy. So the temporary file is created first, empty and 0600, in a 0700 directory of the login user's own, and
SFTP writes into it (an existing file keeps its mode). The copy's target is created the same way, as root.
``@local`` copies from ``mkstemp`` (0600) and ignores the temporary name; root logins upload straight to the
target.
"""

from __future__ import annotations

import posixpath
from io import StringIO

from pyinfra.api.command import FileUploadCommand, PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.context import host
from pyinfra.facts.server import Home

from openclaw_infra.quoting import quoted

# Under the login user's home: only that user (and root) can enter it.
UPLOAD_DIR_NAME = ".openclaw-infra-upload"


def private_file(path: str) -> StringCommand:
    """Create ``path`` empty and 0600 (replacing whatever was there), so what is written into it stays private."""
    return StringCommand("umask", "077", "&&", "rm", "-f", quoted(path), "&&", "touch", quoted(path))


# Connector arguments under which pyinfra uploads as the login user and copies as another.
USER_CHANGING_ARGUMENTS = ("_sudo", "_su_user", "_doas", "_dzdo")


def as_login_user(*bits: object) -> StringCommand:
    """A command run as the user pyinfra logged in as, whatever sudo/su the operation runs under."""
    return StringCommand(*bits, _sudo=False, _su_user="", _doas=False, _dzdo=False)


def private_upload(content: str, target: str) -> list[PyinfraCommand]:
    """Commands that put ``content`` into ``target`` (a staging path in a directory only its owner can enter),
    0600, with no moment at which another user could read it, whatever the connection."""
    arguments: dict[str, object] = dict(host.current_op_global_arguments or {})
    if not any(arguments.get(name) for name in USER_CHANGING_ARGUMENTS):
        # Uploaded as the user who owns the result: straight into the private file.
        return [private_file(target), FileUploadCommand(StringIO(content), target)]
    # The login user's home, not the sudo target's: read without sudo.
    login_home = host.get_fact(Home, _sudo=False, _su_user="", _doas=False, _dzdo=False)
    if not login_home or not posixpath.isabs(login_home):
        # Never fall back to a shared directory such as /tmp: another user could be waiting there.
        raise OperationError(f"the login user's home is {login_home!r}: there is no private place to upload to")
    upload_dir = posixpath.join(login_home, UPLOAD_DIR_NAME)
    temporary = posixpath.join(upload_dir, posixpath.basename(target))
    private_dir = ["umask", "077", "&&", "mkdir", "-p", quoted(upload_dir), "&&", "chmod", "700", quoted(upload_dir)]
    return [
        private_file(target),
        as_login_user(*private_dir, "&&", private_file(temporary)),
        FileUploadCommand(StringIO(content), target, remote_temp_filename=temporary),
        # pyinfra removes the temporary file after the copy; the directory goes too (nothing left behind).
        as_login_user("rm", "-rf", quoted(upload_dir)),
    ]
