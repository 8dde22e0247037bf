"""The listening socket of ``mltasks serve``: checked and bound before uvicorn starts.

uvicorn answers a port in use or an address it cannot bind with a log line and exit status
3; ``mltasks serve`` binds the socket itself first, so these are one ``Error:`` line and exit
status 2 like every other mistake in the command line.
"""

from __future__ import annotations

import errno
import ipaddress
import socket

from mltasks.errors import ConfigError

#: Idle keep-alive connections stay open this long (uvicorn's default is 5 s). A client pool
#: that keeps idle connections as long as or longer than the server (httpx 5 s, aiohttp 15 s,
#: browsers and load balancers 60 s) races the server's close: it sends its next request on
#: a connection the server is closing and gets "connection reset" or "server disconnected".
#: A server that waits longer than its clients leaves the close to them.
KEEP_ALIVE_S = 75


def loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` as uvicorn binds it (IPv6 when the host has a colon).

    :raises ConfigError: the host does not resolve, the address is not this machine's, the port
        is in use or needs privileges.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host}: not an address or a host name that resolves ({_reason(exc)})") from None
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        shown = f"[{host}]" if ":" in host else host
        if exc.errno == errno.EADDRINUSE:
            problem = "the port is already in use (another server? pick another --port)"
        elif exc.errno == errno.EADDRNOTAVAIL:
            problem = "the address is not one of this machine's (--host)"
        elif exc.errno == errno.EACCES:
            problem = "permission denied (ports below 1024 need privileges)"
        else:
            problem = _reason(exc)
        raise ConfigError(f"cannot listen on {shown}:{port}: {problem}") from None
    sock.set_inheritable(True)
    return sock


def _reason(exc: BaseException) -> str:
    return str(exc.args[1] if isinstance(exc, OSError) and len(exc.args) > 1 else exc)
