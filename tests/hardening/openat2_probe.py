"""Probe (runs on a sandbox host): does openat2(RESOLVE_BENEATH) work in this process's sandbox?"""

import ctypes
import ctypes.util
import os
import struct
import sys

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
how = struct.pack("QQQ", os.O_RDONLY | os.O_DIRECTORY, 0, 0x08)  # flags, mode, RESOLVE_BENEATH
buf = ctypes.create_string_buffer(how)
dirfd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
fd = libc.syscall(437, dirfd, b"etc", buf, len(how))
err = ctypes.get_errno()
print("openat2:", "ok" if fd >= 0 else f"errno {err} {os.strerror(err)}")
sys.exit(0 if fd >= 0 else 1)
