"""SM3 (GB/T 32905-2016), HMAC-SM3 and streaming SM3 of files, computed by OpenSSL via ``cryptography``."""

from __future__ import annotations

import errno
import hmac as _std_hmac
import os
import stat
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _hmac

DIGEST_SIZE = 32
#: Chunk size for streaming files: large chunks keep the per-call overhead negligible.
DEFAULT_CHUNK = 4 * 1024 * 1024


class SM3:
    """Incremental SM3: ``update()`` any number of times, then ``digest()``/``hexdigest()`` once."""

    def __init__(self, data: bytes = b"") -> None:
        self._ctx = hashes.Hash(hashes.SM3())
        if data:
            self._ctx.update(data)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._ctx.update(data)

    def copy(self) -> SM3:
        clone = SM3.__new__(SM3)
        clone._ctx = self._ctx.copy()
        return clone

    def digest(self) -> bytes:
        return self._ctx.finalize()

    def hexdigest(self) -> str:
        return self.digest().hex()


def sm3(data: bytes | bytearray | memoryview) -> bytes:
    """SM3 digest (32 bytes) of ``data``."""
    ctx = hashes.Hash(hashes.SM3())
    ctx.update(data)
    return ctx.finalize()


def sm3_hex(data: bytes | bytearray | memoryview) -> str:
    return sm3(data).hex()


def hmac_sm3(key: bytes, data: bytes | bytearray | memoryview) -> bytes:
    """HMAC-SM3 (32 bytes)."""
    mac = _hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def hmac_sm3_verify(key: bytes, data: bytes, tag: bytes) -> bool:
    """Constant-time check of an HMAC-SM3 tag."""
    return _std_hmac.compare_digest(hmac_sm3(key, data), tag)


def sm3_stream(stream: BinaryIO, chunk_size: int = DEFAULT_CHUNK) -> bytes:
    """SM3 of everything readable from a binary stream, read in ``chunk_size`` pieces."""
    ctx = hashes.Hash(hashes.SM3())
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        while block := stream.read(chunk_size):
            ctx.update(block)
        return ctx.finalize()
    while count := readinto(buffer):
        ctx.update(view[:count])
    return ctx.finalize()


def sm3_file(path: str | Path, chunk_size: int = DEFAULT_CHUNK) -> bytes:
    """SM3 of a regular file, streamed (memory use is one chunk whatever the file size).

    A FIFO or device is refused (``OSError`` EINVAL) instead of blocking or reading forever.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with os.fdopen(fd, "rb", buffering=0) as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return sm3_stream(stream, chunk_size)
