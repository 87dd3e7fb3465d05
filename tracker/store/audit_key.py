"""The audit chain's HMAC key: where it comes from and its public id.

The key never reaches the database: someone who can write the database but not read this key can
neither forge an entry's MAC nor a checkpoint's. It comes from ``TRACKER_AUDIT_KEY`` or the file
``TRACKER_AUDIT_KEY_PATH``. Outside production, with neither set, one is generated once into
``data/runtime/keys/audit.key`` (mode 0600) so that a fresh checkout audits; production refuses to
write or verify the chain without a configured key.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tracker.config import RUNTIME_DIR, Settings, get_settings

log = logging.getLogger(__name__)
GENERATED_KEY_PATH = RUNTIME_DIR / "keys" / "audit.key"
MIN_KEY_BYTES = 32


class AuditKeyError(RuntimeError):
    """The audit key is missing, unreadable or too short; the message says which setting to fix."""


@dataclass(frozen=True)
class AuditKey:
    secret: bytes
    key_id: str  # names the key in checkpoints and messages without revealing it
    source: str  # "environment" | "file:<path>" | "generated:<path>"

    def __repr__(self) -> str:  # never print the secret in a traceback or a log line
        return f"AuditKey(key_id={self.key_id!r}, source={self.source!r})"


def key_id_of(secret: bytes) -> str:
    return hashlib.sha256(b"tracker-audit-key-id:" + secret).hexdigest()[:16]


def _checked(secret: bytes, where: str, source: str) -> AuditKey:
    secret = secret.strip()
    if len(secret) < MIN_KEY_BYTES:
        raise AuditKeyError(f"{where} holds {len(secret)} bytes; the audit key needs at least {MIN_KEY_BYTES} "
                            "(e.g. the output of `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    return AuditKey(secret, key_id_of(secret), source)


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Written whole under a private name, then linked into place: a process starting at the same
    # moment sees no key or the complete key, never an empty file; link() refuses to replace one.
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    try:
        os.link(partial, path)
    except FileExistsError:
        return  # another process generated it first: its key is the one everybody reads
    finally:
        os.unlink(partial)
    log.warning("generated a development audit key at %s (mode 0600); set TRACKER_AUDIT_KEY_PATH in production",
                path)


@lru_cache(maxsize=4)
def _load(key: str | None, key_path: Path | None, environment: str, generated_path: Path) -> AuditKey:
    if key:
        return _checked(key.encode(), "TRACKER_AUDIT_KEY", "environment")
    if key_path is not None:
        try:
            data = Path(key_path).read_bytes()
        except OSError as exc:
            raise AuditKeyError(f"TRACKER_AUDIT_KEY_PATH {str(key_path)!r} cannot be read: "
                                f"{exc.strerror or exc}") from exc
        return _checked(data, f"the file {str(key_path)!r} (TRACKER_AUDIT_KEY_PATH)", f"file:{key_path}")
    if environment == "production":
        raise AuditKeyError("no audit key: set TRACKER_AUDIT_KEY_PATH (a file outside the database holding at "
                            "least 32 random bytes) or TRACKER_AUDIT_KEY; production never generates one")
    if not generated_path.exists():
        _generate(generated_path)
    return _checked(generated_path.read_bytes(), f"the generated key {str(generated_path)!r}",
                    f"generated:{generated_path}")


def load_audit_key(settings: Settings | None = None, generated_path: Path = GENERATED_KEY_PATH) -> AuditKey:
    """The configured key; cached per configuration, because every audit entry needs it."""
    settings = settings or get_settings()
    return _load(settings.audit_key, settings.audit_key_path, settings.environment, generated_path)
