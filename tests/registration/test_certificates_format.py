"""The certificate document, pure: canonical bytes, key id, signature and every refusal's sentence."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tracker.registration import certificate_format as fmt

# RFC 8032 section 7.1, TEST 1: the published Ed25519 test vector (secret key, public key, and the
# signature of the empty message), so our signing is checked against the standard, not itself.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE_EMPTY = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


def _body(key_id: str) -> dict[str, Any]:
    return {"format": fmt.FORMAT, "registration_number": "CTR-2026-000001",
            "provider": {"slug": "meta", "name": "Meta Platforms"}, "system": "llama-3.1", "version": "405b",
            "regime": {"id": "eu-aia-gpaisr-presumption", "jurisdiction": "EU", "instrument": "AI Act Art. 51(2)",
                       "metric": "training_flop_cumulative", "threshold": 1e25},
            "crossed_on": "2024-07-23", "registered_at": "2026-12-01T09:30:00+00:00",
            "issued_at": "2026-12-04T05:00:00+00:00", "issuer": "Tracker für KI-Register", "key_id": key_id,
            "record_sha256": "a" * 64}


@pytest.fixture(scope="module")
def signer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)


@pytest.fixture
def signed(signer: Ed25519PrivateKey) -> dict[str, Any]:
    body = _body(fmt.key_id_of(signer.public_key()))
    return fmt.document(body, fmt.sign_body(body, signer))


def _keys(signer: Ed25519PrivateKey) -> dict[str, Any]:
    return {fmt.key_id_of(signer.public_key()): signer.public_key()}


def test_signing_matches_the_rfc_8032_vector(signer: Ed25519PrivateKey) -> None:
    assert fmt.raw_public_key(signer.public_key()) == RFC8032_PUBLIC
    assert signer.sign(b"") == RFC8032_SIGNATURE_EMPTY
    assert fmt.key_id_of(signer.public_key()) == hashlib.sha256(RFC8032_PUBLIC).hexdigest()[:16]


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert fmt.canonical_json({"b": 1, "a": {"d": "ü", "c": [1e25, None]}}) == (
        '{"a":{"c":[1e+25,null],"d":"ü"},"b":1}'.encode())


def test_a_signed_document_verifies_and_survives_reformatting(signer: Ed25519PrivateKey,
                                                              signed: dict[str, Any]) -> None:
    reparsed = json.loads(json.dumps(signed, indent=4, sort_keys=False, ensure_ascii=True))
    verdict = fmt.verify_document(reparsed, _keys(signer))
    assert verdict.valid and verdict.message == "valid" and verdict.registration_number == "CTR-2026-000001"


@pytest.mark.parametrize(("path", "value"), [
    (("certificate", "system"), "llama-3.2"),
    (("certificate", "regime", "threshold"), 1e26),
    (("certificate", "issuer"), "Tracker fur KI-Register"),
    (("certificate", "record_sha256"), "b" * 64),
])
def test_any_changed_value_fails_on_signature(signer: Ed25519PrivateKey, signed: dict[str, Any],
                                              path: tuple[str, ...], value: Any) -> None:
    tampered = copy.deepcopy(signed)
    target = tampered
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    verdict = fmt.verify_document(tampered, _keys(signer))
    assert verdict.reason == fmt.SIGNATURE and "does not hold" in verdict.message


def test_a_flipped_signature_bit_fails_on_signature(signer: Ed25519PrivateKey, signed: dict[str, Any]) -> None:
    raw = bytearray(fmt.b64url_decode(signed["signature"]["value"]))
    raw[10] ^= 0x01
    signed["signature"]["value"] = fmt.b64url(bytes(raw))
    assert fmt.verify_document(signed, _keys(signer)).reason == fmt.SIGNATURE


def test_an_unpublished_key_is_named(signer: Ed25519PrivateKey, signed: dict[str, Any]) -> None:
    verdict = fmt.verify_document(signed, {})
    assert verdict.reason == fmt.UNKNOWN_KEY and fmt.key_id_of(signer.public_key()) in verdict.message


@pytest.mark.parametrize(("status", "reason"), [("revoked", fmt.REVOKED), ("superseded", fmt.SUPERSEDED),
                                                 ("not on record", fmt.NOT_ON_RECORD), ("valid", None)])
def test_the_issuer_status_decides_after_the_signature(signer: Ed25519PrivateKey, signed: dict[str, Any],
                                                       status: str, reason: str | None) -> None:
    assert fmt.verify_document(signed, _keys(signer), status).reason == reason


def _drop(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    target = doc
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return doc


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: [d], "not a JSON object"),
    (lambda d: _drop(d, "signature"), "'signature' is missing"),
    (lambda d: {**d, "certificate": "text"}, "'certificate' is not an object"),
    (lambda d: _drop(d, "signature", "value"), "signature.value is missing"),
    (lambda d: {**d, "signature": {**d["signature"], "alg": "RS256"}}, "expected 'Ed25519'"),
    (lambda d: {**d, "certificate": {**d["certificate"], "format": "other/2"}}, "expected 'ctr-certificate/1'"),
    (lambda d: _drop(d, "certificate", "record_sha256"), "certificate.record_sha256 is missing"),
    (lambda d: {**d, "signature": {**d["signature"], "key_id": "0" * 16}}, "key_id differ"),
    (lambda d: {**d, "certificate": {**d["certificate"], "system": float("nan")}}, "NaN"),
])
def test_a_malformed_document_gets_a_sentence(signer: Ed25519PrivateKey, signed: dict[str, Any],
                                              mutate: Any, expected: str) -> None:
    verdict = fmt.verify_document(mutate(copy.deepcopy(signed)), _keys(signer))
    assert verdict.reason == fmt.MALFORMED and expected in verdict.message


def test_a_signature_that_is_not_base64url_is_a_signature_failure(signer: Ed25519PrivateKey,
                                                                  signed: dict[str, Any]) -> None:
    signed["signature"]["value"] = "not base64!"
    verdict = fmt.verify_document(signed, _keys(signer))
    assert verdict.reason == fmt.SIGNATURE and "not base64url" in verdict.message


def test_public_keys_load_from_pem_and_raw_base64(signer: Ed25519PrivateKey) -> None:
    public = signer.public_key()
    for text in (fmt.public_key_pem(public), fmt.b64url(RFC8032_PUBLIC), __import__("base64").b64encode(
            RFC8032_PUBLIC).decode()):
        assert fmt.raw_public_key(fmt.load_public_key(text)) == RFC8032_PUBLIC
    with pytest.raises(ValueError, match="32 bytes"):
        fmt.load_public_key(fmt.b64url(RFC8032_PUBLIC[:31]))


def test_the_record_digest_binds_every_part_and_ignores_filing_order() -> None:
    registration = {"id": 1, "state": "registered"}
    submissions = [{"id": 1, "record_sha256": "c" * 64}]
    base = fmt.record_digest(registration, submissions, ["1" * 64, "2" * 64])
    assert base == fmt.record_digest(registration, submissions, ["2" * 64, "1" * 64])
    assert base != fmt.record_digest(registration, submissions, ["1" * 64])
    assert base != fmt.record_digest({**registration, "state": "withdrawn"}, submissions, ["1" * 64, "2" * 64])
    assert base != fmt.record_digest(registration, [{"id": 1, "record_sha256": "d" * 64}], ["1" * 64, "2" * 64])
