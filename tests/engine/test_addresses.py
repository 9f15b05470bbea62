"""Tests of the address policy: which hosts and IPs may be called, at registration and call time."""

from ipaddress import ip_address

import mongomock
import pytest
from factories import service

from machinery import create_app, states
from machinery.config import from_environment
from machinery.engine.addresses import AddressPolicy, RefusedAddress, literal_ip
from machinery.engine.executor import StepFailed

ALLOW_LIST = "127.0.0.0/8,10.0.0.0/8,*.svc.cluster.local,api.example.com"
NAMES_ONLY = "*.svc.cluster.local,api.example.com"


def ips(*addresses: str) -> list:
    return [ip_address(address) for address in addresses]


@pytest.mark.parametrize(
    ("host", "resolved", "refused_because"),
    [
        # IPv4: link-local and cloud metadata, unspecified, multicast, broadcast
        ("169.254.169.254", None, "link-local"),
        ("169.254.170.2", None, "link-local"),
        ("100.100.100.200", None, "Alibaba"),
        ("168.63.129.16", None, "Azure"),
        ("0.0.0.0", None, "unspecified"),
        ("0.1.2.3", None, "unspecified"),
        ("224.0.0.1", None, "multicast"),
        ("239.255.255.250", None, "multicast"),
        ("255.255.255.255", None, "broadcast"),
        # the same IPv4 addresses spelled as the resolver also reads them
        ("2852039166", None, "link-local"),
        ("0xa9fea9fe", None, "link-local"),
        ("0251.0376.0251.0376", None, "link-local"),
        ("169.254.43518", None, "link-local"),
        ("169.254.169.254.", None, "link-local"),
        # IPv6, and IPv6 forms of refused IPv4 addresses
        ("[fe80::1]", None, "link-local"),
        ("[fd00:ec2::254]", None, "AWS"),
        ("[::]", None, "unspecified"),
        ("[ff02::1]", None, "multicast"),
        ("[::ffff:169.254.169.254]", None, "(169.254.169.254) is a link-local"),
        ("[::ffff:a9fe:a9fe]", None, "link-local"),
        ("[::ffff:0.0.0.0]", None, "unspecified"),
        ("[64:ff9b::a9fe:a9fe]", None, "(169.254.169.254) is a link-local"),
        ("[2002:a9fe:a9fe::1]", None, "(169.254.169.254) is a link-local"),
        # names, judged on what they resolve to: every address counts
        (
            "evil.test",
            ips("169.254.169.254"),
            "evil.test resolves to 169.254.169.254, a link-local",
        ),
        ("evil.test", ips("10.0.0.1", "169.254.169.254"), "resolves to 169.254.169.254"),
        ("evil.test", ips("::ffff:169.254.169.254"), "link-local"),
        # allowed: loopback, private ranges, public addresses, names
        ("127.0.0.1", None, None),
        ("localhost", None, None),
        ("localhost", ips("127.0.0.1", "::1"), None),
        ("[::1]", None, None),
        ("10.1.2.3", None, None),
        ("172.16.0.1", None, None),
        ("192.168.1.1", None, None),
        ("[fd00::1]", None, None),
        ("[::ffff:127.0.0.1]", None, None),
        ("93.184.215.14", None, None),
        ("169.255.0.1", None, None),
        ("upper.example", None, None),
        ("upper.example", ips("10.0.0.5"), None),
        ("cafe", None, None),
    ],
)
def test_without_an_allow_list_only_the_refused_ranges_are_refused(host, resolved, refused_because):
    reason = AddressPolicy().refusal(host, resolved)
    if refused_because is None:
        assert reason is None
    else:
        assert refused_because in reason
        assert reason.endswith("Machinery never calls it.")


@pytest.mark.parametrize(
    ("allowed", "host", "resolved", "refused_because"),
    [
        # a name pattern admits the name, whatever allowed address it resolves to
        (ALLOW_LIST, "api.example.com", None, None),
        (ALLOW_LIST, "API.Example.com.", None, None),
        (ALLOW_LIST, "api.example.com", ips("93.184.215.14"), None),
        (ALLOW_LIST, "upper.svc.cluster.local", ips("172.20.0.7"), None),
        (ALLOW_LIST, "a.b.svc.cluster.local", None, None),
        # but never to an always-refused one
        (ALLOW_LIST, "api.example.com", ips("169.254.169.254"), "link-local"),
        # a name no pattern matches: its addresses must all be in an allowed network
        (ALLOW_LIST, "upper.internal", ips("10.0.0.5"), None),
        (ALLOW_LIST, "localhost", ips("127.0.0.1", "::ffff:127.0.0.1"), None),
        (ALLOW_LIST, "upper.internal", ips("10.0.0.5", "192.168.0.5"), "192.168.0.5, outside"),
        (ALLOW_LIST, "localhost", ips("127.0.0.1", "::1"), "::1, outside"),
        (ALLOW_LIST, "svc.cluster.local", ips("172.20.0.7"), "outside"),
        (ALLOW_LIST, "evil-svc.cluster.local", ips("8.8.8.8"), "outside"),
        # not resolved (registration): a name waits for call time when networks are allowed
        (ALLOW_LIST, "upper.internal", None, None),
        # literal IPs: only the networks count
        (ALLOW_LIST, "127.0.0.1", None, None),
        (ALLOW_LIST, "10.200.0.1", None, None),
        (ALLOW_LIST, "[::ffff:10.0.0.1]", None, None),
        (ALLOW_LIST, "192.168.1.1", None, "192.168.1.1 is outside MACHINERY_ALLOWED_HOSTS."),
        (ALLOW_LIST, "[::1]", None, "outside"),
        (ALLOW_LIST, "169.254.169.254", None, "link-local"),
        # an allow-list of names only: anything else is refused, even unresolved
        (NAMES_ONLY, "api.example.com", None, None),
        (NAMES_ONLY, "x.svc.cluster.local", None, None),
        (NAMES_ONLY, "upper.internal", None, "upper.internal matches nothing in"),
        (NAMES_ONLY, "example.com", None, "matches nothing"),
        (NAMES_ONLY, "api.example.com.evil.test", None, "matches nothing"),
        (NAMES_ONLY, "127.0.0.1", None, "outside"),
        (NAMES_ONLY, "upper.internal", ips("127.0.0.1"), "outside"),
        # the allowed networks may be IPv6, or single addresses
        ("fd00::/8,192.0.2.7", "[fd12::1]", None, None),
        ("fd00::/8,192.0.2.7", "192.0.2.7", None, None),
        ("fd00::/8,192.0.2.7", "192.0.2.8", None, "outside"),
    ],
)
def test_an_allow_list_admits_matching_names_and_addresses_in_its_networks(
    allowed, host, resolved, refused_because
):
    reason = AddressPolicy(allowed).refusal(host, resolved)
    if refused_because is None:
        assert reason is None
    else:
        assert refused_because in reason


@pytest.mark.parametrize(
    ("host", "resolved", "refused"),
    [
        ("10.1.2.3", None, True),
        ("upper.internal", ips("10.0.0.1", "10.1.0.1"), True),
        ("[fd00:1::5]", None, True),
        ("10.2.0.1", None, False),
        ("upper.internal", None, False),
    ],
)
def test_denied_networks_are_refused_as_well(host, resolved, refused):
    policy = AddressPolicy(denied_networks="10.1.0.0/16, fd00:1::/32")
    reason = policy.refusal(host, resolved)
    assert (reason is not None) == refused
    if refused:
        assert "MACHINERY_DENIED_NETWORKS" in reason


@pytest.mark.parametrize(
    ("allowed", "denied", "message"),
    [
        ("*", "", "MACHINERY_ALLOWED_HOSTS: '*' is not a host name"),
        ("api.*.com", "", "not a host name"),
        ("http://api.example.com", "", "not a host name"),
        ("10.0.0.1/8", "", "MACHINERY_ALLOWED_HOSTS: '10.0.0.1/8' is not a network"),
        ("", "10.0.0.0/33", "MACHINERY_DENIED_NETWORKS: '10.0.0.0/33' is not a network"),
        ("", "internal.example", "MACHINERY_DENIED_NETWORKS: 'internal.example' is not a CIDR"),
        ("", "internal/16", "MACHINERY_DENIED_NETWORKS: 'internal/16' is not a CIDR"),
    ],
)
def test_a_bad_setting_is_an_error_naming_it(allowed, denied, message):
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        AddressPolicy(allowed, denied)


@pytest.mark.parametrize("empty", ["", " , ", [], ()])
def test_an_empty_allow_list_restricts_nothing(empty):
    policy = AddressPolicy(empty)
    assert not policy.restricted
    assert policy.refusal("anything.example") is None


def test_the_settings_may_be_a_list():
    policy = AddressPolicy(["10.0.0.0/8", "*.internal"], ["10.9.0.0/16"])
    assert policy.refusal("a.internal") is None
    assert "outside" in policy.refusal("192.168.0.1")
    assert "DENIED" in policy.refusal("10.9.0.1")


@pytest.mark.parametrize(
    ("host", "ip"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:169.254.169.254", "::ffff:169.254.169.254"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("localhost", None),
        ("cafe", None),
        ("deadbeef.example", None),
        ("1e100.net", None),
    ],
)
def test_a_literal_ip_is_read_without_a_lookup(host, ip):
    assert literal_ip(host) == (ip_address(ip) if ip else None)


class Resolver:
    """A fake resolve(host, port): answers from a table and records its lookups."""

    def __init__(self, answers: dict[str, list[str]] | None = None):
        self.answers = answers or {}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers[host]


def test_a_name_that_resolves_to_nothing_is_refused():
    assert AddressPolicy().refusal("evil.test", []) == "evil.test resolves to no address."


def test_a_literal_ip_is_never_looked_up():
    resolver = Resolver()
    assert AddressPolicy().addresses_to_call("127.0.0.1", 80, resolver) == ips("127.0.0.1")
    assert AddressPolicy().addresses_to_call("[::1]", 80, resolver) == ips("::1")
    assert resolver.lookups == []


def test_a_name_is_looked_up_once_and_every_address_checked():
    resolver = Resolver({"upper.internal": ["10.0.0.1", "10.0.0.2"], "evil.test": ["fe80::1"]})
    policy = AddressPolicy()
    assert policy.addresses_to_call("upper.internal", 80, resolver) == ips("10.0.0.1", "10.0.0.2")
    with pytest.raises(RefusedAddress, match="evil.test resolves to fe80::1, a link-local"):
        policy.addresses_to_call("evil.test", 80, resolver)
    assert resolver.lookups == ["upper.internal", "evil.test"]


@pytest.mark.parametrize(
    "address",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.169.254:80/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://169.254.169.254./",
        "http://0xa9fea9fe/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]:8080/event",
        "http://100.100.100.200/latest/meta-data/",
        "https://2852039166/",
        "http://0.0.0.0:5001/event",
        "http://224.0.0.1/event",
    ],
)
@pytest.mark.parametrize("method", ["post", "put"])
def test_registering_a_refused_address_is_422_on_address(client, address, method):
    if method == "put":
        assert client.post("/s", json=service()).status_code == 201
        response = client.put("/s/upper", json=service(address=address))
    else:
        response = client.post("/s", json=service(address=address))
    assert response.status_code == 422
    [message] = response.json["errors"]["address"]
    assert message.endswith("Machinery never calls it.")
    assert client.get("/s/upper").json.get("address") != address


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1:5001/event",
        "http://localhost:5001/event",
        "http://[::1]:5001/event",
        "http://10.0.0.5/event",
        "https://upper.internal/event",
        # a name is not resolved at registration: refused or not when it is called
        "http://metadata.evil.test/",
    ],
)
def test_loopback_private_and_named_addresses_register_by_default(client, address):
    assert client.post("/s", json=service(address=address)).status_code == 201


@pytest.mark.parametrize(
    ("allowed", "address", "refused_because"),
    [
        (NAMES_ONLY, "http://upper.svc.cluster.local:8080/event", None),
        (NAMES_ONLY, "https://api.example.com/event", None),
        (NAMES_ONLY, "http://upper.internal/event", "upper.internal matches nothing in"),
        (NAMES_ONLY, "http://127.0.0.1:5001/event", "127.0.0.1 is outside"),
        (ALLOW_LIST, "http://127.0.0.1:5001/event", None),
        (ALLOW_LIST, "http://upper.internal/event", None),
        (ALLOW_LIST, "http://192.168.0.5/event", "192.168.0.5 is outside"),
        (ALLOW_LIST, "http://169.254.169.254/", "never calls it"),
    ],
)
def test_registration_keeps_to_the_allow_list(app, client, allowed, address, refused_because):
    app.extensions["machinery.addresses"] = AddressPolicy(allowed)
    response = client.post("/s", json=service(address=address))
    if refused_because is None:
        assert response.status_code == 201
    else:
        assert response.status_code == 422
        assert refused_because in response.json["errors"]["address"][0]


def test_the_settings_come_from_the_environment():
    config = from_environment(
        {"MACHINERY_ALLOWED_HOSTS": ALLOW_LIST, "MACHINERY_DENIED_NETWORKS": "10.9.0.0/16"}
    )
    assert config["ALLOWED_HOSTS"] == ALLOW_LIST
    assert config["DENIED_NETWORKS"] == "10.9.0.0/16"
    assert from_environment({})["ALLOWED_HOSTS"] == ""


MOCK_STORE = {
    "TESTING": True,
    "MONGO_URI": "mongodb://mongomock",
    "MONGO_CLIENT_FACTORY": mongomock.MongoClient,
}


def test_the_app_checks_registrations_and_calls_with_one_policy():
    app = create_app({**MOCK_STORE, "ALLOWED_HOSTS": NAMES_ONLY, "DENIED_NETWORKS": "10.9.0.0/16"})
    try:
        response = app.test_client().post("/s", json=service(address="http://10.0.0.1/event"))
        assert response.status_code == 422
        with pytest.raises(StepFailed) as refused:
            app.extensions["machinery.runtime"].caller("http://10.0.0.1/event", {})
        assert refused.value.kind == states.REFUSED_ADDRESS
        assert "10.0.0.1 is outside MACHINERY_ALLOWED_HOSTS" in refused.value.message
    finally:
        app.extensions["machinery.runtime"].caller.close()
        app.extensions["machinery.store"].connection.close()


@pytest.mark.parametrize(
    ("setting", "value"), [("ALLOWED_HOSTS", "api.*.com"), ("DENIED_NETWORKS", "internal")]
)
def test_a_bad_setting_stops_the_app_before_it_starts_its_store(setting, value):
    with pytest.raises(ValueError, match=f"MACHINERY_{setting}"):
        create_app({**MOCK_STORE, "MONGO_URI": None, setting: value})
