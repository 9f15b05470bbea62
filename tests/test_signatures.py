"""Webhook signatures: what a receiver's verify accepts, and every way it refuses."""

import hashlib
import hmac
import subprocess
import sys

import pytest

from machinery.signatures import HEADER, InvalidSignature, sign, verify

SECRET = "whsec-0123456789abcdef"
OTHER = "whsec-fedcba9876543210"
BODY = b'{"event_id":"65f0","status":"succeeded","outputs":{"message":"hello"}}'
T = 1_700_000_000


def test_the_header_is_the_hmac_of_the_time_and_the_body():
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, [SECRET], T) == f"t={T},v1={expected}"
    assert HEADER == "Machinery-Signature"


def test_a_signed_body_verifies():
    verify(BODY, sign(BODY, [SECRET], T), [SECRET], now=T + 10)
    verify(BODY, sign(BODY, SECRET, T), SECRET, now=T)  # one secret given alone


def test_a_tampered_body_is_refused():
    header = sign(BODY, [SECRET], T)
    with pytest.raises(InvalidSignature) as refused:
        verify(BODY.replace(b"hello", b"HELLO"), header, [SECRET], now=T)
    assert refused.value.reason == "no v1 signature matches the body with any secret"


def test_a_tampered_time_is_refused():
    header = sign(BODY, [SECRET], T).replace(f"t={T}", f"t={T + 60}")
    with pytest.raises(InvalidSignature, match="no v1 signature matches"):
        verify(BODY, header, [SECRET], now=T + 60)


def test_the_wrong_secret_is_refused():
    with pytest.raises(InvalidSignature, match="no v1 signature matches"):
        verify(BODY, sign(BODY, [OTHER], T), [SECRET], now=T)


def test_while_secrets_rotate_either_verifies():
    header = sign(BODY, [OTHER, SECRET], T)  # Machinery signs with the new and the old
    assert header.count("v1=") == 2
    verify(BODY, header, [SECRET], now=T)  # a receiver still on the old secret
    verify(BODY, header, [OTHER], now=T)  # one moved to the new one
    verify(BODY, sign(BODY, [SECRET], T), [OTHER, SECRET], now=T)  # a receiver knowing both


@pytest.mark.parametrize("delta", [-301, 301, 86400])
def test_a_time_outside_the_tolerance_is_refused_as_a_replay(delta):
    header = sign(BODY, [SECRET], T)
    with pytest.raises(InvalidSignature, match=r"more than 300 s from now \(a replay"):
        verify(BODY, header, [SECRET], now=T + delta)


def test_the_tolerance_can_be_set():
    header = sign(BODY, [SECRET], T)
    verify(BODY, header, [SECRET], tolerance_s=3600, now=T + 3000)
    with pytest.raises(InvalidSignature, match="more than 5 s"):
        verify(BODY, header, [SECRET], tolerance_s=5, now=T + 6)


def test_without_now_the_clock_is_used():
    verify(BODY, sign(BODY, [SECRET]), [SECRET])
    with pytest.raises(InvalidSignature, match="a replay"):
        verify(BODY, sign(BODY, [SECRET], T), [SECRET])


@pytest.mark.parametrize(
    "header, reason",
    [
        (None, "no Machinery-Signature header"),
        ("", "no Machinery-Signature header"),
        ("v1=abc", "no t=<unix time>"),
        (f"t={T}", "no v1=<signature>"),
        (f"t={T},v0=abc", "no v1=<signature>"),
        (f"t=soon,v1={'0' * 64}", "one t=<unix time> is needed"),
        (f"t=-5,v1={'0' * 64}", "one t=<unix time> is needed"),
        (f"t={T},t={T},v1={'0' * 64}", "one t=<unix time> is needed"),
        (f"t={T};v1={'0' * 64}", "one t=<unix time> is needed"),
        (f"t={T},{'0' * 64}", "items are name=value"),
        ("sha256=abcdef", "no t=<unix time>"),
    ],
)
def test_a_malformed_header_is_refused_saying_so(header, reason):
    with pytest.raises(InvalidSignature) as refused:
        verify(BODY, header, [SECRET], now=T)
    assert reason in refused.value.reason


def test_other_schemes_and_spaces_are_tolerated():
    header = sign(BODY, [SECRET], T).replace(",", ", ") + ",v2=future-scheme"
    verify(BODY, header, [SECRET], now=T)


def test_a_signature_that_is_not_ascii_is_a_mismatch_not_a_crash():
    with pytest.raises(InvalidSignature, match="no v1 signature matches"):
        verify(BODY, f"t={T},v1=é{'0' * 63}", [SECRET], now=T)


def test_the_body_must_be_the_bytes_received():
    header = sign(BODY, [SECRET], T)
    with pytest.raises(TypeError, match="bytes received"):
        verify(BODY.decode(), header, [SECRET], now=T)


@pytest.mark.parametrize("secrets", [[], [""], ""])
def test_no_secret_is_a_mistake_not_a_pass(secrets):
    with pytest.raises(ValueError, match="no secret"):
        sign(BODY, secrets, T)
    with pytest.raises(ValueError, match="no secret"):
        verify(BODY, f"t={T},v1={'0' * 64}", secrets, now=T)


def test_receivers_import_it_without_a_web_stack_or_a_database_driver():
    probe = (
        "import sys, machinery.signatures\n"
        "heavy = ('flask', 'werkzeug', 'marshmallow', 'pymongo', 'bson', 'urllib3')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
