"""Files attached to a registration submission, stored by their SHA-256 like filed disclosures:
``<archive>/registrations/<sha[:2]>/<sha>``. The same bytes attached twice are stored once; a
file is written (atomically) before the rows that point to it, so a rolled-back submission
leaves at most an unreferenced file, never a row without its file."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tracker.config import Settings
from tracker.registration.validate import Attachment, media_type


@dataclass(frozen=True)
class StoredAttachment:
    filename: str
    media_type: str
    sha256: str
    size_bytes: int
    stored_path: str

    def public(self) -> dict[str, str | int]:
        """What the record hash covers (the server path is nobody's business)."""
        return {"filename": self.filename, "media_type": self.media_type, "sha256": self.sha256,
                "size_bytes": self.size_bytes}


def attachments_dir(settings: Settings) -> Path:
    return settings.archive_dir / "registrations"


def store_attachment(attachment: Attachment, settings: Settings) -> StoredAttachment:
    """Write ``attachment`` (already checked) under its hash; returns where it is."""
    kind = media_type(attachment.content)
    if kind is None:  # check_attachment refuses these first; never store what it would refuse
        raise ValueError(f"{attachment.filename}: neither a PDF nor UTF-8 text")
    digest = hashlib.sha256(attachment.content).hexdigest()
    folder = attachments_dir(settings) / digest[:2]
    path = folder / digest
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(attachment.content)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return StoredAttachment(attachment.filename, kind, digest, len(attachment.content), str(path))
