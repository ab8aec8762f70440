"""Uploading a file nobody else may read, not even for a moment, whether pyinfra logs in as root, as a sudo user,
or runs ``@local``.

With ``_sudo`` pyinfra cannot SFTP into a root-only directory: it uploads as the login user to a temporary file
and copies that into place with sudo. SFTP creates a new file with the server's default mode (0644 under the
usual umask), and pyinfra's default temporary file lives in ``/tmp``: a secret would be readable there until the
copy. So the temporary file is created first, empty and 0600, in a 0700 directory of the login user's own, and
SFTP writes into it (an existing file keeps its mode). The copy's target is created the same way, as root.
``@local`` copies from ``mkstemp`` (0600) and ignores the temporary name; root logins upload straight to the
target. (An operation given ``_chdir`` cannot use the sudo path: pyinfra's copy would look for the relative
temporary file elsewhere and fail, loudly.)
"""

from __future__ import annotations

from io import StringIO

from pyinfra.api.command import FileUploadCommand, PyinfraCommand, StringCommand
from pyinfra.context import host

from openclaw_infra.quoting import quoted

# In the login user's home, which only that user and root can enter. SFTP and pyinfra's copy take it relative
# (sshd starts both in the home); our own commands name it through the login shell's $HOME (the same place over
# SSH, and the operator's home under @local, where pyinfra runs from any directory).
LOGIN_UPLOAD_DIR = ".openclaw-infra-upload"
LOGIN_UPLOAD_FILE = f"{LOGIN_UPLOAD_DIR}/staged"
IN_LOGIN_HOME = f'"$HOME"/{LOGIN_UPLOAD_DIR}'
UPLOAD_FILE_IN_LOGIN_HOME = f'"$HOME"/{LOGIN_UPLOAD_FILE}'
# fmt: off
LOGIN_UPLOAD_FILE_MADE_PRIVATE = (
    "umask", "077", "&&", "mkdir", "-p", IN_LOGIN_HOME, "&&", "chmod", "700", IN_LOGIN_HOME, "&&",
    "rm", "-f", UPLOAD_FILE_IN_LOGIN_HOME, "&&", "touch", UPLOAD_FILE_IN_LOGIN_HOME,
)
# fmt: on


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
    # In the login user's home, found without a fact read (see LOGIN_UPLOAD_DIR).
    return [
        private_file(target),
        as_login_user(*LOGIN_UPLOAD_FILE_MADE_PRIVATE),
        FileUploadCommand(StringIO(content), target, remote_temp_filename=LOGIN_UPLOAD_FILE),
        # pyinfra removes the temporary file after the copy; the directory goes too (nothing left behind).
        as_login_user("rm", "-rf", IN_LOGIN_HOME),
    ]
