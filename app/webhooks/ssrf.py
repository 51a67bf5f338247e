"""Which URLs the server may call (OWASP API7, server-side request forgery).

A subscription URL must be https (http only where the operator allows it) and every
address its host resolves to must be a public unicast one: no loopback, private, shared,
link-local (169.254.169.254 is the cloud metadata service), multicast or reserved range,
also when wrapped in IPv6 (::ffff:10.0.0.1, 64:ff9b::/96, 6to4, Teredo). The check runs
when a subscription is saved and again before every attempt, and the attempt connects to
the very address that passed, so a DNS answer that changes in between (DNS rebinding)
cannot redirect it. CLAIMS_WEBHOOK_ALLOW_PRIVATE_URLS=true turns the address check off,
for receivers on the operator's own network (and the tests' local receiver).
"""

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")

# Every block of the IANA IPv4 and IPv6 Special-Purpose Address Registries that is not
# "Globally Reachable" (plus a few whose only global use is an anycast service no webhook
# receiver runs on). Python's is_global misses some of them in some versions: 3.11's takes
# 192.0.0.8 (the IPv4 dummy address), 3fff::/20 and 5f00::/16 for global.
NOT_GLOBALLY_REACHABLE = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private use
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local
        "172.16.0.0/12",  # private use
        "192.0.0.0/24",  # IETF protocol assignments, 192.0.0.8 dummy, .9/.10 anycast
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private use
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "240.0.0.0/4",  # reserved
        "255.255.255.255/32",  # limited broadcast
        "::/128",  # unspecified
        "::1/128",  # loopback
        "::ffff:0:0/96",  # IPv4-mapped (its IPv4 address is checked as well)
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (benchmarking, ORCHID, AMT, ...)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing (SRv6) SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
    )
)


class UrlRefused(Exception):
    """The URL may not be called; the message says why, for the API user."""


@dataclass(frozen=True)
class Target:
    """What to connect to: the URL (its host replaced by a checked address when pinned)
    and the headers and transport extensions that keep the original name for HTTP and TLS."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_public(address: IPAddress) -> bool:
    embedded = _embedded_ipv4(address)
    if embedded is not None and not is_public(embedded):
        return False
    if any(
        address in block for block in NOT_GLOBALLY_REACHABLE if block.version == address.version
    ):
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_private
    )


def check_scheme(url: str, *, allow_http: bool) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise UrlRefused("must be an https URL (this server does not send webhooks over http)")


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (or the host itself, when it is an address)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UrlRefused(f"its host '{host}' does not resolve ({exc})") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in answers:
        # Drop an IPv6 scope id ("fe80::1%eth0"): the address decides.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UrlRefused(f"its host '{host}' does not resolve")
    return addresses


def public_addresses(url: str) -> list[IPAddress]:
    """The host's addresses, all of them public, or UrlRefused."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise UrlRefused("must have a host")
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    addresses = resolve(parts.hostname, port)
    refused = [a for a in addresses if not is_public(a)]
    if refused:
        raise UrlRefused(
            f"its host '{parts.hostname}' resolves to {refused[0]}, a loopback, private, "
            "link-local or reserved address; webhooks go to public addresses only"
        )
    return addresses


def check_url(url: str, *, allow_private: bool, allow_http: bool) -> None:
    """Refuse (UrlRefused) a subscription URL this server must not call."""
    check_scheme(url, allow_http=allow_http)
    try:
        port = urlsplit(url).port
    except ValueError:
        raise UrlRefused("has an invalid port") from None
    if port == 0:
        raise UrlRefused("has an invalid port")
    if not allow_private:
        public_addresses(url)


def target(url: str, *, allow_private: bool, allow_http: bool) -> Target:
    """Where one attempt connects: re-checked now, and pinned to the address that passed."""
    check_scheme(url, allow_http=allow_http)
    if allow_private:
        return Target(url)
    address = public_addresses(url)[0]
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    port = "" if parts.port is None else f":{parts.port}"
    userinfo = parts.netloc.rpartition("@")[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = (f"{userinfo}@" if userinfo else "") + literal + port
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    host_header = (f"[{hostname}]" if ":" in hostname else hostname) + port
    extensions = {"sni_hostname": hostname} if parts.scheme.lower() == "https" else {}
    return Target(pinned, {"Host": host_header}, extensions)
