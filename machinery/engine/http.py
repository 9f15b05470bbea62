"""The HTTP caller: JSON POSTs to services over pooled keep-alive connections, with timeouts.

Every new connection goes only to an address the AddressPolicy allows: the caller resolves the
host itself, checks every IP it gets, and connects to one of those (see _GuardedConnection).
"""

import functools
import json
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InvalidHeader,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util import Retry

from machinery import states
from machinery.engine.addresses import (
    AddressPolicy,
    IPAddress,
    RefusedAddress,
    Resolve,
    resolve_host,
)
from machinery.engine.executor import CallOptions
from machinery.engine.failures import StepFailed
from machinery.strict_json import parse_json

_RETRY_AFTER = Retry(0)
_CHUNK = 64 * 1024
_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_EXCERPT = 200


class HttpCaller:
    """Call service addresses with a JSON POST; one per process (connection pools do not fork)."""

    def __init__(
        self,
        connect_timeout: float,
        read_timeout: float,
        # Connections kept per host: as many as a server process calls at once (a gunicorn
        # worker's threads, gunicorn.conf.py); beyond them a call opens one and closes it after.
        pool_size: int = 32,
        *,
        max_response_bytes: int = 1024 * 1024,
        policy: AddressPolicy | None = None,
        resolve: Resolve = resolve_host,
    ):
        """policy: which addresses may be called (default: all but the always-refused ones);
        resolve(host, port): the host's IP addresses, replaceable in tests."""
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._max_response_bytes = max_response_bytes
        self._pools = urllib3.PoolManager(num_pools=50, maxsize=pool_size, block=False)
        check = functools.partial((policy or AddressPolicy()).addresses_to_call, resolve=resolve)
        self._pools.pool_classes_by_scheme = _guarded_pool_classes(check)

    def __call__(
        self, address: str, payload: dict, options: CallOptions | None = None
    ) -> tuple[int, dict]:
        """POST the payload to the address; return (status, JSON object) or raise StepFailed."""
        headers = {**_HEADERS, **(options.headers if options else {})}
        timeout = self._timeout_for(options)
        response, body = self._post(address, json.dumps(payload).encode(), headers, timeout)
        if options is not None and not options.expect_answer:
            return response.status, {}
        try:
            answer = parse_json(body)
        except ValueError as error:
            raise StepFailed(
                states.INVALID_RESPONSE,
                f"answered a body that is not usable JSON ({_why(error)}): {_excerpt(body)}",
                response.status,
            ) from error
        if not isinstance(answer, dict):
            raise StepFailed(
                states.INVALID_RESPONSE,
                f"answered JSON that is not an object: {_excerpt(body)}",
                response.status,
            )
        return response.status, answer

    def post(self, address: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST a JSON body as it is (a webhook: its bytes are what was signed), through the same
        address guard, timeouts and limits, following no redirect; return the 2xx status, or
        raise StepFailed (kind http_status, with any Retry-After, for another status)."""
        headers = {"Content-Type": "application/json", **headers}
        response, _ = self._post(address, body, headers, self._timeout, read_accepted=False)
        return response.status

    def _post(
        self,
        address: str,
        body: bytes,
        headers: dict,
        timeout: urllib3.Timeout,
        read_accepted: bool = True,
    ):
        """(response, body) of a POST answered 2xx; StepFailed for anything else.
        read_accepted=False: a 2xx status is all that is needed, its body is not read (b"")."""
        try:
            response = self._pools.request(
                "POST",
                address,
                body=body,
                headers=headers,
                timeout=timeout,
                retries=False,
                redirect=False,  # a redirect would lead to an address nobody registered
                preload_content=False,
            )
            if read_accepted or not 200 <= response.status < 300:
                answer = self._read(response, timeout.read_timeout)
            else:
                answer = b""
                response.close()  # the connection goes, rather than wait for a body
                response.release_conn()
        except RefusedAddress as error:
            raise StepFailed(
                states.REFUSED_ADDRESS, f"refused to call {address}: {error}", sent=False
            ) from error
        except NewConnectionError as error:  # before its base class, ConnectTimeoutError
            raise StepFailed(
                states.CONNECTION_ERROR,
                f"could not connect to {address}: {_reason(error)}",
                sent=False,
            ) from error
        except ConnectTimeoutError as error:
            raise StepFailed(
                states.TIMEOUT, f"timed out connecting to {address}: {error}", sent=False
            ) from error
        except ReadTimeoutError as error:
            raise StepFailed(states.TIMEOUT, f"timed out calling {address}: {error}") from error
        except HTTPError as error:
            raise StepFailed(
                states.CONNECTION_ERROR, f"connection to {address} failed: {_reason(error)}"
            ) from error
        if not 200 <= response.status < 300:
            raise StepFailed(
                states.HTTP_STATUS,
                f"answered HTTP {response.status}: {_excerpt(answer)}",
                response.status,
                retry_after=_retry_after(response),
            )
        return response, answer

    def _timeout_for(self, options: CallOptions | None) -> urllib3.Timeout:
        if options is None or options.timeout is None:
            return self._timeout
        connect, read = options.timeout
        return urllib3.Timeout(
            connect=self._timeout.connect_timeout if connect is None else connect,
            read=self._timeout.read_timeout if read is None else read,
        )

    def _read(self, response, read_timeout: float | None) -> bytes:
        """The body, within the read timeout for the whole of it (after the headers, which had
        it too), refusing one over the limit without holding more of it than the limit."""
        deadline = None if read_timeout is None else time.monotonic() + read_timeout
        limit = self._max_response_bytes
        chunks, size = [], 0
        try:
            while True:
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        response.close()
                        raise StepFailed(
                            states.TIMEOUT,
                            f"took more than {read_timeout} s to send its answer",
                            response.status,
                        )
                    # Asked at each read: once the body has been read, urllib3 gives the
                    # connection back (to the pool, or closed when the pool is full) and the
                    # response holds none, so the socket is no longer this call's.
                    sock = getattr(response.connection, "sock", None)
                    if sock is not None:
                        sock.settimeout(remaining)  # each read waits only for what is left
                chunk = response.read1(_CHUNK, decode_content=True)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    response.close()  # drop the connection rather than read the rest
                    raise StepFailed(
                        states.RESPONSE_TOO_LARGE,
                        f"answered more than {limit} bytes",
                        response.status,
                    )
        finally:
            response.release_conn()

    def close(self) -> None:
        self._pools.clear()


# check(host, port) -> the checked IPs to connect to; raises RefusedAddress.
AddressCheck = Callable[[str, int], Sequence[IPAddress]]


class _GuardedConnection:
    """Mixed into urllib3's connections: a new connection goes only to an address checked for it.

    urllib3 would resolve the host inside socket.create_connection, out of reach of a check; here
    _new_conn resolves once, checks every IP, and connects to a checked IP, so a DNS answer that
    changes between check and connect (rebinding) cannot redirect it. HTTPS still sends SNI and
    verifies the certificate for the URL's host name: urllib3 takes them from self.host, not
    from the socket's peer. The check runs per connection, not per request: a pooled keep-alive
    connection stays with the peer it was checked for (DNS cannot move an open TCP connection),
    pools are kept per scheme, host and port, and the policy does not change while the caller lives.
    """

    address_check: AddressCheck

    def _new_conn(self) -> socket.socket:
        try:
            ips = self.address_check(self._dns_host, self.port)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        try:
            sock = _connect_first(
                ips, self.port, self.timeout, self.source_address, self.socket_options
            )
        except TimeoutError as error:
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from error
        except OSError as error:
            raise NewConnectionError(
                self, f"Failed to establish a new connection: {error}"
            ) from error
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


def _guarded_pool_classes(check: AddressCheck) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pools for PoolManager whose new connections go through the check."""

    class GuardedHTTPConnection(_GuardedConnection, HTTPConnection):
        address_check = check

    class GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
        address_check = check

    class GuardedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}


def _connect_first(ips, port, timeout, source_address, socket_options) -> socket.socket:
    """A socket connected to the first of the IPs that answers (as socket.create_connection)."""
    error: OSError | None = None
    for ip in ips:
        sock = None
        try:
            sock = socket.socket(socket.AF_INET if ip.version == 4 else socket.AF_INET6)
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is None or isinstance(timeout, int | float):  # not urllib3's "default"
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect((str(ip), port))
            return sock
        except OSError as failed:  # as create_connection: try the next address
            if sock is not None:
                sock.close()
            error = failed
    raise error or OSError("no address to connect to")


def _retry_after(response) -> float | None:
    """The seconds a Retry-After header asks for (a number or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(_RETRY_AFTER.parse_retry_after(value), 0.0)
    except InvalidHeader:
        return None


def _why(error: ValueError) -> str:
    return getattr(error, "msg", None) or str(error)


def _reason(error: Exception) -> str:
    return str(getattr(error, "reason", None) or error)


def _excerpt(body: bytes) -> str:
    text = body[:_EXCERPT].decode("utf-8", "replace")
    return text + ("..." if len(body) > _EXCERPT else "")
