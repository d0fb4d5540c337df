"""Guards against load-testing something by accident: only loopback targets unless explicitly allowed."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class TargetError(ValueError):
    """A target URL that is malformed or not allowed."""


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname
    if host is None:
        raise TargetError(f"no host in {url!r}")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError as exc:
            raise TargetError(f"cannot resolve {host!r}") from exc
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check(url: str, *, allow_remote: bool) -> str:
    if urlsplit(url).scheme not in {"http", "https"}:
        raise TargetError(f"target must be an http(s) URL, got {url!r}")
    if not allow_remote and not is_loopback(url):
        raise TargetError(f"{url} is not a loopback address; pass --allow-remote to load-test another machine")
    return url.rstrip("/")
