"""Where the signing key comes from, and what happens when it is missing or wrong."""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tracker.config import Settings
from tracker.registration.certificate_format import key_id_of
from tracker.registration.keys import SigningKeyError, load_signing_key, private_key_pem


def _settings(**values: object) -> Settings:
    return Settings(database_url="sqlite://", **values)  # type: ignore[arg-type]


def test_development_generates_one_key_once_readable_by_its_owner(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "runtime" / "keys" / "signing-key.pem"
    with caplog.at_level(logging.WARNING, logger="tracker.registration.keys"):
        first = load_signing_key(_settings(environment="development"), generated_path=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.source == f"generated:{path}" and first.key_id in caplog.text and str(path) in caplog.text
    again = load_signing_key(_settings(environment="test"), generated_path=path)
    assert again.key_id == first.key_id == key_id_of(first.public_key)


def test_production_refuses_to_sign_without_a_configured_key(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    with pytest.raises(SigningKeyError, match=r"TRACKER_SIGNING_KEY_PATH .* or TRACKER_SIGNING_KEY"):
        load_signing_key(_settings(environment="production", secret_key="s" * 40), generated_path=path)
    assert not path.exists()


def test_a_key_file_and_an_environment_key_name_the_same_key(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "key.pem"
    path.write_bytes(private_key_pem(key))
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    from_file = load_signing_key(_settings(signing_key_path=path))
    from_seed = load_signing_key(_settings(signing_key=base64.b64encode(seed).decode()))
    one_line_pem = private_key_pem(key).decode().replace("\n", "\\n")
    from_pem = load_signing_key(_settings(signing_key=one_line_pem))
    assert from_file.key_id == from_seed.key_id == from_pem.key_id == key_id_of(key.public_key())
    assert (from_file.path, from_seed.path) == (path, None)


@pytest.mark.parametrize(("value", "expected"), [
    ("c2hvcnQ=", "decodes to 5 bytes; an Ed25519 seed has 32"),
    ("not a key at all", "neither PEM nor base64"),
    ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "not a readable unencrypted PEM"),
])
def test_a_bad_environment_key_says_what_is_wrong(value: str, expected: str) -> None:
    with pytest.raises(SigningKeyError, match=expected) as caught:
        load_signing_key(_settings(signing_key=value))
    assert "TRACKER_SIGNING_KEY" in str(caught.value)


def test_a_key_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x25519.pem"
    path.write_bytes(X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(SigningKeyError, match="holds a X25519 key; expected an Ed25519 key"):
        load_signing_key(_settings(signing_key_path=path))


def test_a_missing_key_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match=r"TRACKER_SIGNING_KEY_PATH .*missing\.pem.* cannot be read"):
        load_signing_key(_settings(signing_key_path=tmp_path / "missing.pem"))
