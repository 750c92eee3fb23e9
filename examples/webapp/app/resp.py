"""A minimal Redis (RESP) client on the standard library: enough for GET/SET/INCR."""

import os
import socket


def command(*args: str) -> object:
    host = os.environ.get("REDIS_HOST", "localhost")
    with socket.create_connection((host, 6379), timeout=5) as s:
        payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        s.sendall(payload.encode())
        f = s.makefile("rb")
        return _read(f)


def _read(f):
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    raise RuntimeError(f"unexpected reply {line!r}")
