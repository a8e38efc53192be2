"""Where a webhook may be sent (server-side request forgery guard).

Rules:
- only ``http``/``https`` URLs with a host; no user:password in the URL;
- every address the host resolves to must be public: loopback, private (RFC 1918 / ULA),
  link-local (169.254.0.0/16 and the cloud metadata address in it), CGNAT, multicast, reserved and
  unspecified addresses are refused, unless the address lies in one of the allowlisted networks
  (``DIRECTORDECK_WEBHOOK_ALLOWED_NETWORKS``, CIDRs such as ``["10.1.0.0/16"]``);
- the check runs when a URL is registered (422 ``webhook_target_forbidden``) and again when a delivery
  is sent: DNS is resolved anew and the request goes to the address that was checked (the ``Host``
  header and TLS server name stay the URL's host), so a name re-pointed after registration gains
  nothing; redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset({"169.254.169.254", "fd00:ec2::254", "100.100.100.200"})


class WebhookTargetError(ValueError):
    """The URL may not receive webhooks (the message says why; no secret in it)."""

    code = "webhook_target_forbidden"


@dataclass(frozen=True)
class Target:
    """A checked delivery target: the URL to connect to (host replaced by the checked address),
    and the original host for the ``Host`` header and TLS server name."""

    connect_url: str
    host: str  # the Host header: the URL's host[:port]
    server_name: str  # TLS server name (SNI and certificate check): the URL's host name
    address: str


def parse_networks(values: Iterable[str]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def _forbidden(addr: IpAddress) -> str | None:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return _forbidden(addr.ipv4_mapped)
    if str(addr) in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for label, flag in (
        ("a loopback address", addr.is_loopback),
        ("a link-local address", addr.is_link_local),
        ("a private address", addr.is_private),
        ("a multicast address", addr.is_multicast),
        ("an unspecified address", addr.is_unspecified),
        ("a reserved address", addr.is_reserved),
    ):
        if flag:
            return label
    if isinstance(addr, ipaddress.IPv4Address) and addr in ipaddress.ip_network("100.64.0.0/10"):
        return "a shared (CGNAT) address"
    return None


def _split(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetError("webhook URLs must be http or https")
    if parts.username or parts.password:
        raise WebhookTargetError("webhook URLs must not carry credentials")
    host = parts.hostname
    if not host:
        raise WebhookTargetError("webhook URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookTargetError("webhook URL has an invalid port") from exc
    return parts.scheme, host, port


def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to now (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookTargetError(f"webhook host {host!r} does not resolve") from exc
    out: list[IpAddress] = []
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if addr not in out:
            out.append(addr)
    if not out:
        raise WebhookTargetError(f"webhook host {host!r} does not resolve")
    return out


def check(url: str, allowed: Sequence[IpNetwork] = ()) -> Target:
    """Resolve the URL's host and refuse it unless every address is public or allowlisted.

    Blocking (DNS): call from a thread in async code."""
    scheme, host, port = _split(url)
    addresses = resolve(host, port)
    for addr in addresses:
        why = _forbidden(addr)
        if why is not None and not any(addr in net for net in allowed if addr.version == net.version):
            raise WebhookTargetError(
                f"webhook host {host!r} resolves to {why} ({addr}); allow it with "
                "DIRECTORDECK_WEBHOOK_ALLOWED_NETWORKS"
            )
    chosen = addresses[0]
    parts = urlsplit(url)
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    connect_url = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return Target(connect_url=connect_url, host=parts.netloc, server_name=host, address=str(chosen))
