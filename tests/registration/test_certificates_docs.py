"""The third-party verification script in docs/registration.md works as printed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.registration.certificate_factories import (  # noqa: F401 - the key_file fixture
    export_public,
    issue,
    key_file_fixture,
    registered_system,
    show,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "registration.md"


def documented_script() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Certificates and verification", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "the section has no python block"
    return str(blocks[-1])


def _run(script: Path, certificate: Path, public_key: Path) -> subprocess.CompletedProcess[str]:
    # Only the standard library and cryptography: run it in isolated mode, outside the project.
    return subprocess.run([sys.executable, "-I", str(script), str(certificate), str(public_key)],
                          capture_output=True, text=True, timeout=60, cwd=script.parent)


def test_the_documented_script_verifies_an_issued_certificate(engine: Engine, key_file: Path,
                                                              tmp_path: Path) -> None:
    registered = registered_system(engine)
    issue(engine, registered)
    certificate = tmp_path / "cert.json"
    document = show(registered.number, certificate)
    public_key = export_public(tmp_path / "key.pem")
    script = tmp_path / "outside" / "verify_certificate.py"
    script.parent.mkdir()
    script.write_text(documented_script(), encoding="utf-8")
    assert "tracker" not in script.read_text()

    good = _run(script, certificate, public_key)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == f"valid signature: {registered.number}"

    document["certificate"]["version"] = "405c"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    bad = _run(script, tampered, public_key)
    assert bad.returncode != 0 and "InvalidSignature" in bad.stderr
