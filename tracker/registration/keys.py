"""The certificate-signing key: where it comes from, its published public half, and rotation.

The private key lives outside the database: a PEM PKCS8 file (``TRACKER_SIGNING_KEY_PATH``) or
the environment (``TRACKER_SIGNING_KEY``: PEM, or base64 of the 32-byte seed). Outside production,
with neither set, one is generated once into ``data/runtime/keys/signing-key.pem`` (mode 0600) so
a fresh checkout issues certificates; production refuses to sign without a configured key.

Every key that ever signed is published in ``signing_key`` with its public half only; a new key
retires the previous one (``retired_at``) but keeps it, so old certificates still verify.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from tracker.config import RUNTIME_DIR, Settings, get_settings
from tracker.registration.certificate_format import ALGORITHM, key_id_of, load_public_key, public_key_pem
from tracker.store import audit
from tracker.store.models import SigningKey
from tracker.store.types import utcnow

log = logging.getLogger(__name__)
GENERATED_KEY_PATH = RUNTIME_DIR / "keys" / "signing-key.pem"


class SigningKeyError(RuntimeError):
    """The signing key is missing or unreadable; the message says which setting to fix."""


@dataclass(frozen=True)
class LoadedKey:
    private_key: Ed25519PrivateKey
    key_id: str
    source: str  # "file:<path>" | "environment" | "generated:<path>"
    path: Path | None  # the file it came from, when rotation can replace it

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def parse_private_key(data: bytes, where: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM PKCS8 or from base64 of its 32-byte seed."""
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(stripped, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"{where} is not a readable unencrypted PEM PKCS8 private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{where} holds a {type(key).__name__.removesuffix('PrivateKey')} key; "
                                  "expected an Ed25519 key")
        return key
    try:
        seed = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningKeyError(f"{where} is neither PEM nor base64 of a 32-byte Ed25519 seed") from exc
    if len(seed) != 32:
        raise SigningKeyError(f"{where} decodes to {len(seed)} bytes; an Ed25519 seed has 32")
    return Ed25519PrivateKey.from_private_bytes(seed)


def write_private_key(path: Path, key: Ed25519PrivateKey, *, replace: bool) -> bool:
    """Write the key readable by its owner only, atomically: a reader sees no key or a whole one.
    Without ``replace``, False if the file exists (another process generated it first: use theirs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_key_pem(key))
        if replace:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)  # fails if the file exists, unlike a rename
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)


def load_signing_key(settings: Settings | None = None, generated_path: Path = GENERATED_KEY_PATH) -> LoadedKey:
    settings = settings or get_settings()
    if settings.signing_key_path is not None:
        path = Path(settings.signing_key_path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SigningKeyError(f"TRACKER_SIGNING_KEY_PATH {str(path)!r} cannot be read: "
                                  f"{exc.strerror or exc}") from exc
        key = parse_private_key(data, f"the file {str(path)!r} (TRACKER_SIGNING_KEY_PATH)")
        return LoadedKey(key, key_id_of(key.public_key()), f"file:{path}", path)
    if settings.signing_key:
        text = settings.signing_key.replace("\\n", "\n")  # PEM pasted into one env line
        key = parse_private_key(text.encode("ascii", "replace"), "TRACKER_SIGNING_KEY")
        return LoadedKey(key, key_id_of(key.public_key()), "environment", None)
    if settings.environment == "production":
        raise SigningKeyError("no certificate-signing key: set TRACKER_SIGNING_KEY_PATH (a PEM PKCS8 Ed25519 "
                              "key file) or TRACKER_SIGNING_KEY; production never generates one")
    if not generated_path.exists():
        fresh = Ed25519PrivateKey.generate()
        if write_private_key(generated_path, fresh, replace=False):
            log.warning("generated a development certificate-signing key %s at %s (mode 0600); "
                        "set TRACKER_SIGNING_KEY_PATH in production", key_id_of(fresh.public_key()), generated_path)
    key = parse_private_key(generated_path.read_bytes(), f"the generated key {str(generated_path)!r}")
    return LoadedKey(key, key_id_of(key.public_key()), f"generated:{generated_path}", generated_path)


def publish(session: Session, loaded: LoadedKey, *, actor: str = "system") -> SigningKey:
    """Make sure the signing key's public half is published and the only unretired one.

    Called before every signature, so setting a new key (file or environment) is a rotation too:
    its first certificate publishes it and retires the previous key.
    """
    row = session.get(SigningKey, loaded.key_id)
    current = row is not None and row.retired_at is None
    others = session.exec(select(SigningKey).where(SigningKey.key_id != loaded.key_id,
                                                   col(SigningKey.retired_at).is_(None))).all()
    if current and not others:
        assert row is not None
        return row
    now = utcnow()
    if row is None:
        # A concurrent publisher of the same key must not fail this transaction.
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(SigningKey.__table__).values(  # type: ignore[attr-defined]
            key_id=loaded.key_id, public_key=public_key_pem(loaded.public_key), algorithm=ALGORITHM,
            created_at=now, retired_at=None).on_conflict_do_nothing(index_elements=["key_id"]))
        row = session.get(SigningKey, loaded.key_id)
        assert row is not None
    row.retired_at = None
    for other in others:
        other.retired_at = now
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="certificate.key_published", entity="signing_key",
                 entity_id=loaded.key_id, details={"source": loaded.source.split(":", 1)[0],
                                                   "retired": sorted(o.key_id for o in others)})
    return row


def rotate(session: Session, settings: Settings | None = None, *, actor: str,
           generated_path: Path = GENERATED_KEY_PATH) -> tuple[str, str]:
    """Replace the key file by a new key and publish it; the old key stays published, retired.

    Returns (old key id, new key id). A key given in the environment cannot be replaced from
    here: the operator sets a new value, and the next certificate publishes it.
    """
    old = load_signing_key(settings, generated_path)
    if old.path is None:
        raise SigningKeyError("the signing key comes from TRACKER_SIGNING_KEY: put a new key there (or use "
                              "TRACKER_SIGNING_KEY_PATH); it is published, and the old one retired, at the "
                              "next certificate")
    publish(session, old, actor=actor)  # whatever it signed must stay verifiable
    fresh = Ed25519PrivateKey.generate()
    write_private_key(old.path, fresh, replace=True)
    new = LoadedKey(fresh, key_id_of(fresh.public_key()), old.source, old.path)
    publish(session, new, actor=actor)
    audit.record(session, actor=actor, action="certificate.key_rotated", entity="signing_key",
                 entity_id=new.key_id, details={"previous": old.key_id})
    return old.key_id, new.key_id


def published_keys(session: Session) -> dict[str, Ed25519PublicKey]:
    """Every published public key by key id, retired ones included."""
    return {row.key_id: load_public_key(row.public_key) for row in session.exec(select(SigningKey)).all()}


def list_keys(session: Session) -> list[SigningKey]:
    return list(session.exec(select(SigningKey).order_by(col(SigningKey.created_at), col(SigningKey.key_id))).all())
