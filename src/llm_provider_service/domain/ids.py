"""Random ids (UUID4 strings, hex tokens) cut from one buffered read of the OS's CSPRNG instead of a syscall each.

`uuid.uuid4()` and `secrets.token_hex` each call `os.urandom`, a system call: a job needed about nine of them
(event ids, trace span ids, lease tokens), ~5 % of the event loop's time. The bytes are the same CSPRNG's, read
4 KiB at a time; every thread has its own buffer, and a forked child drops the parent's, so no two processes or
threads ever hand out the same bytes.
"""

from __future__ import annotations

import os
import threading

_CHUNK_BYTES = 4096


class _Buffer(threading.local):
    def __init__(self) -> None:
        self.data = b""
        self.offset = 0


_buffer = _Buffer()


def _forget_buffer() -> None:
    global _buffer  # a fresh per-thread buffer for the child: the parent's bytes are spent
    _buffer = _Buffer()


os.register_at_fork(after_in_child=_forget_buffer)


def random_bytes(count: int) -> bytes:
    """`count` bytes from the OS's CSPRNG, as `os.urandom(count)` gives them."""
    buffer = _buffer
    start = buffer.offset
    if start + count > len(buffer.data):
        buffer.data = os.urandom(max(_CHUNK_BYTES, count))
        start = 0
    buffer.offset = start + count
    return buffer.data[start : start + count]


def token_hex(count: int = 16) -> str:
    """`count` random bytes as hex, like `secrets.token_hex(count)`."""
    return random_bytes(count).hex()


def uuid4() -> str:
    """A random (version 4, RFC 4122 variant) UUID in its canonical string form, like `str(uuid.uuid4())`."""
    raw = bytearray(random_bytes(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
