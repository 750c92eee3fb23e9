"""Terminals: runc's `--console-socket` protocol.

The container's init opens a pty from the container's own devpts instance
(/dev/pts/ptmx, mounted with newinstance), makes the slave its controlling
terminal and stdio, and sends the master fd to whoever listens on the console
socket (the monitor) as one SCM_RIGHTS message whose data is the pty's name,
exactly as runc's utils.SendFd does. The receiver owns the master from then on.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios

__all__ = ["connect", "open_pty", "recv_master", "send_master", "take_terminal"]

_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def open_pty(devpts: str = "/dev/pts") -> tuple[int, str]:
    """(master fd, slave path) from the devpts mounted at `devpts`."""
    master = os.open(os.path.join(devpts, "ptmx"), os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, b"\0\0\0\0"))[0]
    return master, os.path.join(devpts, str(number))


def take_terminal(slave_path: str) -> None:
    """Make the slave this session's controlling terminal and stdin/stdout/stderr.
    The caller must already be a session leader (setsid)."""
    slave = os.open(slave_path, os.O_RDWR)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def send_master(sock: socket.socket, master: int, name: str) -> None:
    socket.send_fds(sock, [name.encode()], [master])


def recv_master(sock: socket.socket) -> tuple[int, str]:
    """The receiving side (for the monitor and tests): (master fd, pty name)."""
    msg, fds, _, _ = socket.recv_fds(sock, 4096, 1)
    if not fds:
        raise OSError("console socket: no file descriptor received")
    return fds[0], msg.decode(errors="replace")
