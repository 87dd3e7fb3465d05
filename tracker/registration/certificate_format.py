"""The registration certificate as a document: canonical JSON, Ed25519 signature, verification.

Pure functions, no database, clock or files, so that anyone can check a certificate with the
same few lines this module runs (docs/registration.md, "Certificates and verification").

The signed bytes are the canonical JSON of the body (keys sorted, no whitespace, UTF-8, non-ASCII
kept as is): a verifier rebuilds them from the parsed document, so re-indenting or reordering
the file does not break the signature, while changing any value does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "ctr-certificate/1"
ALGORITHM = "Ed25519"
KEY_ID_HEX_CHARS = 16
BODY_FIELDS = ("format", "registration_number", "provider", "system", "version", "regime", "crossed_on",
               "registered_at", "issued_at", "issuer", "key_id", "record_sha256")
# Reasons a verification fails, in the order they are checked.
MALFORMED, UNKNOWN_KEY, SIGNATURE, REVOKED, SUPERSEDED, NOT_ON_RECORD = (
    "malformed", "unknown key", "signature", "revoked", "superseded", "not on record")


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not text or any(c not in _B64URL for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """First 16 hex characters of the SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()[:KEY_ID_HEX_CHARS]


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """A public key as PEM (SubjectPublicKeyInfo) or base64 / base64url of the raw 32 bytes."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(stripped)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM public key is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(stripped.replace(b"-", b"+").replace(b"_", b"/") + b"=" * (-len(stripped) % 4),
                               validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the public key is neither PEM nor base64 of 32 raw bytes") from exc
    if len(raw) != 32:
        raise ValueError(f"a raw Ed25519 public key has 32 bytes, this one has {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def record_digest(registration: Mapping[str, Any], submissions: Sequence[Mapping[str, Any]],
                  filing_sha256s: Sequence[str]) -> str:
    """SHA-256 of the full registration record: the registration row, its submissions (each with
    its own record hash, which covers the confidential figure without showing it) and the hashes
    of the filings the system's compute rests on. Order-independent in the filings."""
    return sha256_hex({"registration": dict(registration), "submissions": [dict(s) for s in submissions],
                       "filings": sorted(set(filing_sha256s))})


def sign_body(body: Mapping[str, Any], private_key: Ed25519PrivateKey) -> str:
    return b64url(private_key.sign(canonical_json(dict(body))))


def document(body: Mapping[str, Any], signature: str) -> dict[str, Any]:
    """The certificate file: the body and its detached signature."""
    return {"certificate": dict(body),
            "signature": {"alg": ALGORITHM, "key_id": body["key_id"], "value": signature}}


@dataclass(frozen=True)
class Verdict:
    """What a verification found. ``reason`` is None when the certificate is valid."""

    reason: str | None
    message: str
    registration_number: str | None = None
    key_id: str | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None


def _malformed(message: str) -> Verdict:
    return Verdict(MALFORMED, f"malformed certificate: {message}")


def _shape_problem(doc: Any) -> str | None:
    """What is wrong with the document's shape, or None."""
    if not isinstance(doc, dict):
        return "the file is not a JSON object; expected {\"certificate\": {...}, \"signature\": {...}}"
    missing = [k for k in ("certificate", "signature") if k not in doc]
    if missing:
        return f"the member {missing[0]!r} is missing; expected 'certificate' and 'signature'"
    body, signature = doc["certificate"], doc["signature"]
    if not isinstance(body, dict):
        return "'certificate' is not an object"
    if not isinstance(signature, dict):
        return "'signature' is not an object"
    for name in ("alg", "key_id", "value"):
        if not isinstance(signature.get(name), str):
            return f"signature.{name} is missing or not a string"
    if signature["alg"] != ALGORITHM:
        return f"signature.alg is {signature['alg'][:40]!r}; expected {ALGORITHM!r}"
    if body.get("format") != FORMAT:
        return f"certificate.format is {str(body.get('format'))[:40]!r}; expected {FORMAT!r}"
    absent = [name for name in BODY_FIELDS if name not in body]
    if absent:
        return f"certificate.{absent[0]} is missing"
    if body["key_id"] != signature["key_id"]:
        return "certificate.key_id and signature.key_id differ"
    return None


def verify_document(doc: Any, public_keys: Mapping[str, Ed25519PublicKey],
                    status: str | None = None) -> Verdict:
    """Check a parsed certificate file against the published keys and, when the caller has the
    issuer's records, the certificate's status there (``valid``, ``revoked``, ``superseded``, or
    None when unknown / offline)."""
    problem = _shape_problem(doc)
    if problem is not None:
        return _malformed(problem)
    body, signature = doc["certificate"], doc["signature"]
    number, key_id = str(body["registration_number"])[:40], signature["key_id"][:40]
    key = public_keys.get(signature["key_id"])
    if key is None:
        return Verdict(UNKNOWN_KEY, f"certificate {number} is signed by an unknown key {key_id!r}: "
                                    "no published key has that key id", number, key_id)
    try:
        canonical = canonical_json(body)
    except ValueError:
        return _malformed("the certificate holds a number JSON cannot represent (NaN or infinity)")
    try:
        raw = b64url_decode(signature["value"])
    except ValueError:
        return Verdict(SIGNATURE, f"certificate {number}: the signature value is not base64url", number, key_id)
    try:
        key.verify(raw, canonical)
    except InvalidSignature:
        return Verdict(SIGNATURE, f"certificate {number}: the signature does not hold under key {key_id}; "
                                  "the document was altered after signing", number, key_id)
    if status == REVOKED:
        return Verdict(REVOKED, f"certificate {number} was revoked by its issuer", number, key_id)
    if status == SUPERSEDED:
        return Verdict(SUPERSEDED, f"certificate {number} was superseded by a newer certificate "
                                   "(the registration record changed)", number, key_id)
    if status == NOT_ON_RECORD:
        return Verdict(NOT_ON_RECORD, f"certificate {number} is correctly signed but the issuer has no "
                                      "record of it", number, key_id)
    return Verdict(None, "valid", number, key_id)
