"""`tracker certificate show|verify|keys ...`: registration certificates (contract §6)."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session

from tracker.cli.errors import fail
from tracker.registration import certificate_format as fmt
from tracker.registration.certificates import (
    current_certificate,
    document_of,
    is_registration_number,
    verify_with_records,
)
from tracker.registration.keys import SigningKeyError, list_keys, load_signing_key, publish, rotate
from tracker.store.db import get_engine, session_scope

certificate_app = typer.Typer(help="Signed registration certificates.", no_args_is_help=True)
keys_app = typer.Typer(help="The certificate-signing keys (public halves published).", no_args_is_help=True)
certificate_app.add_typer(keys_app, name="keys")
MAX_FILE_BYTES = 1024 * 1024  # a certificate is about 1 KB; refuse to parse anything absurd


class Format(StrEnum):
    json = "json"
    table = "table"


def _actor() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "cli"


def _write(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text)
        return
    try:
        out.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {str(out)!r}: {exc.strerror or exc}")
    typer.echo(f"wrote {out}", err=True)


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read the {what} {str(path)!r}: {exc.strerror or exc}")
    if len(data) > MAX_FILE_BYTES:
        fail(f"the {what} {str(path)!r} is larger than {MAX_FILE_BYTES} bytes; expected a certificate file")
    return data


@certificate_app.command("show")
def show(
    number: str = typer.Argument(..., metavar="NUMBER", help="registration number, CTR-YYYY-NNNNNN"),
    out: Path | None = typer.Option(None, "--out", metavar="FILE", help="write the certificate to this file"),
) -> None:
    """The current signed certificate of a registration number, as JSON."""
    if not is_registration_number(number):
        fail(f"{number[:40]!r} is not a registration number; expected CTR-YYYY-NNNNNN")
    with Session(get_engine()) as session:
        certificate = current_certificate(session, number)
        if certificate is None:
            fail(f"no certificate for registration number {number}")
        status, document = certificate.status, document_of(certificate)
    _write(json.dumps(document, indent=2, ensure_ascii=False), out)
    if status != "valid":
        typer.echo(f"note: certificate {number} is {status}", err=True)


def _offline_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    """A public key file: PEM, base64 of the raw key, or the JSON of GET /api/v1/certificates/keys."""
    data = _read(path, "public key file")
    try:
        published = json.loads(data)
    except ValueError:
        published = None
    try:
        if isinstance(published, dict) and isinstance(published.get("keys"), dict):
            keys = [fmt.load_public_key(str(entry.get("public_key", ""))) for entry in published["keys"].values()
                    if isinstance(entry, dict)]
        else:
            keys = [fmt.load_public_key(data)]
    except ValueError as exc:
        fail(f"the public key file {str(path)!r} cannot be used: {exc}")
    return {fmt.key_id_of(key): key for key in keys}


@certificate_app.command("verify")
def verify(
    file: Path = typer.Argument(..., metavar="FILE", help="the certificate JSON file"),
    public_key: Path | None = typer.Option(
        None, "--public-key", metavar="FILE",
        help="verify offline with this public key (PEM, base64, or the keys endpoint's JSON)"),
) -> None:
    """Exit 0 and print 'valid', or exit 1 with the reason: signature, unknown key, revoked, superseded."""
    data = _read(file, "certificate file")
    try:
        document: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        fail(f"not valid (malformed): {str(file)!r} is not UTF-8 JSON; expected a certificate file")
    if public_key is not None:
        verdict = fmt.verify_document(document, _offline_keys(public_key))
    else:
        try:
            with Session(get_engine()) as session:
                verdict = verify_with_records(session, document)
        except sa.exc.SQLAlchemyError as exc:
            fail(f"cannot read the published keys and statuses from the database ({type(exc).__name__}); "
                 "verify offline with --public-key FILE, or set TRACKER_DATABASE_URL")
    if not verdict.valid:
        fail(f"not valid ({verdict.reason}): {verdict.message}")
    typer.echo("valid")
    if public_key is not None:
        typer.echo(f"note: certificate {verdict.registration_number} checked offline against key {verdict.key_id}; "
                   "its revocation status was not (GET /api/v1/certificates/revoked has it)", err=True)


@keys_app.command("list")
def keys_list(fmt_: Format = typer.Option(Format.table, "--format",
                                          help="output: a table to read, or JSON for scripts")) -> None:
    """Every published public key; retired keys still verify the certificates they signed."""
    with Session(get_engine()) as session:
        rows: list[dict[str, str]] = [
            {"key_id": k.key_id, "algorithm": k.algorithm, "created_at": k.created_at.isoformat(),
             "retired_at": k.retired_at.isoformat() if k.retired_at else ""} for k in list_keys(session)]
    if fmt_ is Format.json:
        typer.echo(json.dumps({"keys": [{**row, "retired_at": row["retired_at"] or None} for row in rows]}, indent=2))
        return
    from tracker.cli.tables import Column, print_table
    from tracker.units import format_datetime

    print_table("Certificate-signing keys", [
        Column("Key id", figure=True), Column("Algorithm"), Column("Created", figure=True),
        Column("Retired", figure=True)], [
        [row["key_id"], row["algorithm"], format_datetime(row["created_at"]),
         format_datetime(row["retired_at"]) if row["retired_at"] else "in use"] for row in rows])


@keys_app.command("rotate")
def keys_rotate(by: str | None = typer.Option(None, "--by", metavar="NAME",
                                             help="who rotates (audited); default: $USER")) -> None:
    """Replace the signing key file by a new key; the old public key stays published, retired."""
    try:
        with session_scope() as session:
            old, new = rotate(session, actor=by or _actor())
    except SigningKeyError as exc:
        fail(str(exc))
    typer.echo(f"rotated: key {old} retired (still verifies its certificates), key {new} signs from now on")


@keys_app.command("export-public")
def keys_export_public(out: Path | None = typer.Option(None, "--out", metavar="FILE",
                                                      help="write the PEM to this file")) -> None:
    """The current signing key's public half as PEM, for offline `certificate verify --public-key`."""
    try:
        loaded = load_signing_key()
        with session_scope() as session:
            publish(session, loaded, actor=_actor())
    except SigningKeyError as exc:
        fail(str(exc))
    _write(fmt.public_key_pem(loaded.public_key).rstrip("\n"), out)
    typer.echo(f"key id {loaded.key_id}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(certificate_app, name="certificate")
