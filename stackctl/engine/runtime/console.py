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

__all__ = ["connect", "open_pty", "recv_master", "relay", "send_master", "take_terminal"]

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


def relay(master: int, stdin: int = 0, stdout: int = 1) -> None:
    """Copy between our stdio and the container's pty until the pty closes (what
    `runc run -t` does without --console-socket). When stdin is a terminal it is
    put in raw mode for the duration (keys such as ^C reach the container as
    bytes) and its size is mirrored onto the pty, now and on every SIGWINCH."""
    import select
    import signal
    import tty

    saved = None
    if os.isatty(stdin):
        saved = termios.tcgetattr(stdin)
        tty.setraw(stdin)

        def resize(*_: object) -> None:
            try:
                size = fcntl.ioctl(stdin, termios.TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(master, termios.TIOCSWINSZ, size)
            except OSError:
                pass

        resize()
        signal.signal(signal.SIGWINCH, resize)
    sources = [master, stdin]
    try:
        while True:
            try:
                ready, _, _ = select.select(sources, [], [])
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave fd is closed, the process is gone
                    return
                if not data:
                    return
                _write_all(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    _write_all(master, data)
                else:
                    # Our input ended (not a terminal): send the terminal's EOF (^D)
                    # and stop reading it, as `docker run -t` does.
                    _write_all(master, b"\x04")
                    sources.remove(stdin)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]
