"""Which addresses Machinery may call: checked at registration, and on the IPs at call time.

Link-local and cloud metadata addresses, unspecified, multicast and broadcast addresses are always
refused, in any spelling (IPv4-mapped IPv6 included). Loopback and private ranges are allowed
unless an allow-list (MACHINERY_ALLOWED_HOSTS) narrows what may be called.
"""

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# resolve(host, port) -> the IP addresses the host name stands for.
Resolve = Callable[[str, int], Iterable[str]]

ALLOWED_HOSTS = "MACHINERY_ALLOWED_HOSTS"
DENIED_NETWORKS = "MACHINERY_DENIED_NETWORKS"

_LINK_LOCAL = "a link-local address (where cloud metadata services listen)"
_UNSPECIFIED = "an unspecified address (it reaches this host)"
_MULTICAST = "a multicast address"
ALWAYS_REFUSED: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(network), why)
    for network, why in (
        ("169.254.0.0/16", _LINK_LOCAL),
        ("fe80::/10", _LINK_LOCAL),
        ("fd00:ec2::254/128", "the AWS metadata service's IPv6 address"),
        ("100.100.100.200/32", "the Alibaba Cloud metadata service's address"),
        ("168.63.129.16/32", "the Azure platform's WireServer address"),
        ("0.0.0.0/8", _UNSPECIFIED),
        ("::/128", _UNSPECIFIED),
        ("224.0.0.0/4", _MULTICAST),
        ("ff00::/8", _MULTICAST),
        ("255.255.255.255/32", "the broadcast address"),
    )
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# What a numeric IPv4 host may be spelled with besides dotted decimal: 0x7f.1, 2130706433, 0177.1.
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


class RefusedAddress(Exception):
    """An address Machinery does not call; the message says why."""


class AddressPolicy:
    """Which hosts and IPs may be called: the always-refused ranges, the denied networks and,
    when one is set, the allow-list of host names, *.suffix patterns and networks."""

    def __init__(self, allowed_hosts: Iterable[str] | str = (), denied_networks=()):
        names, suffixes, networks = set(), [], []
        for entry in _entries(allowed_hosts):
            network = _network(entry, ALLOWED_HOSTS)
            if network is not None:
                networks.append(network)
            elif entry.startswith("*.") and _HOST_NAME.fullmatch(entry[2:]):
                suffixes.append(entry[1:])
            elif _HOST_NAME.fullmatch(entry):
                names.add(entry)
            else:
                raise ValueError(
                    f"{ALLOWED_HOSTS}: {entry!r} is not a host name, a *.suffix pattern or a CIDR."
                )
        self.restricted = bool(names or suffixes or networks)
        self._names = frozenset(names)
        self._suffixes = tuple(suffixes)
        self._allowed_networks = tuple(networks)
        denied = []
        for entry in _entries(denied_networks):
            network = _network(entry, DENIED_NETWORKS)
            if network is None:
                raise ValueError(f"{DENIED_NETWORKS}: {entry!r} is not a CIDR.")
            denied.append((network, f"in {DENIED_NETWORKS}"))
        self._refused = ALWAYS_REFUSED + tuple(denied)

    def refusal(self, host: str, ips: Sequence[IPAddress] | None = None) -> str | None:
        """Why the host may not be called, or None when it may.

        ips: the addresses the host resolved to; None judges a host name without resolving it
        (at registration), which refuses only a name no allowed address could ever match. A host
        that is a literal IP is judged on that IP.
        """
        name = _host_name(host)
        literal = literal_ip(name)
        if literal is not None:
            ips = [literal]
        elif ips is not None and not ips:
            return f"{name} resolves to no address."
        for ip in ips or ():
            refused = self._refused_range(ip)
            if refused:
                described, why = refused
                return f"{_subject(name, literal, described)} {why}; Machinery never calls it."
        if not self.restricted or (literal is None and self._name_allowed(name)):
            return None
        if ips is None:
            if self._allowed_networks:
                return None  # it may resolve into an allowed network: checked at call time
            return f"{name} matches nothing in {ALLOWED_HOSTS}."
        for ip in ips:
            if not self._network_allowed(ip):
                return f"{_subject(name, literal, str(ip))} outside {ALLOWED_HOSTS}."
        return None

    def check_registration(self, address: str) -> None:
        """Refuse a service address that could never be called; no DNS lookup."""
        try:
            host = urlsplit(address).hostname
        except ValueError:
            return  # not a URL: the URL check says so
        reason = self.refusal(host) if host else None
        if reason:
            raise RefusedAddress(reason)

    def addresses_to_call(self, host: str, port: int, resolve: Resolve) -> list[IPAddress]:
        """The IPs a new connection to host may use, every one checked; raises RefusedAddress.

        A literal IP is not looked up; a name is resolved exactly once, here, so the connection
        goes to an address that was checked (no second lookup an attacker's DNS could answer
        differently).
        """
        literal = literal_ip(_host_name(host))
        if literal is not None:
            ips = [literal]
        else:
            ips = [ipaddress.ip_address(answer) for answer in resolve(host, port)]
        reason = self.refusal(host, ips)
        if reason:
            raise RefusedAddress(reason)
        return ips

    def _refused_range(self, ip: IPAddress) -> tuple[str, str] | None:
        """(the address as described, why it is refused), or None when no range refuses it."""
        for candidate in (ip, *_embedded_ipv4(ip)):
            for network, why in self._refused:
                if candidate in network:
                    return (str(ip) if candidate == ip else f"{ip} ({candidate})"), why
        return None

    def _name_allowed(self, name: str) -> bool:
        return name in self._names or name.endswith(self._suffixes)

    def _network_allowed(self, ip: IPAddress) -> bool:
        mapped = getattr(ip, "ipv4_mapped", None)
        return any(
            candidate in network
            for candidate in (ip, mapped)
            if candidate is not None
            for network in self._allowed_networks
        )


def literal_ip(host: str) -> IPAddress | None:
    """The IP address a URL host spells, or None when it is a host name; never a DNS lookup."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host.lower()):
        # The resolver reads these IPv4 spellings (hex, octal, fewer than 4 parts) without DNS.
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses the system resolver (DNS, /etc/hosts) gives for host, in its order."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(answer[4][0] for answer in answers))


def _subject(name: str, literal: IPAddress | None, described: str) -> str:
    """How a refusal starts: '10.0.0.1 is' for a literal IP, 'name resolves to 10.0.0.1,'."""
    return f"{described} is" if literal is not None else f"{name} resolves to {described},"


def _host_name(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _embedded_ipv4(ip: IPAddress) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 address an IPv6 address leads to: IPv4-mapped, NAT64 or 6to4."""
    if ip.version == 4:
        return ()
    if ip.ipv4_mapped:
        return (ip.ipv4_mapped,)
    if ip in _NAT64:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip.sixtofour:
        return (ip.sixtofour,)
    return ()


def _entries(setting: Iterable[str] | str) -> list[str]:
    if isinstance(setting, str):
        setting = setting.split(",")
    return [entry.strip().rstrip(".").lower() for entry in setting if entry.strip()]


def _network(entry: str, setting: str) -> Network | None:
    """The network an entry names (an IP alone is a /32 or /128), None for a name."""
    try:
        return ipaddress.ip_network(entry)
    except ValueError as error:
        if "/" in entry and literal_ip(entry.partition("/")[0]) is not None:
            raise ValueError(f"{setting}: {entry!r} is not a network ({error}).") from None
        return None
