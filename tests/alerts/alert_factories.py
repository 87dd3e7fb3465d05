"""Data factories for alert tests: plain functions, explicit values."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session

from tracker.config import Settings
from tracker.store.models import AISystem, Flag, Provider, Regime


def settings_for(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": db_url, "environment": "test",
                              "base_url": "https://tracker.example"}
    values.update(overrides)
    return Settings(**values)


def provider_and_system(session: Session, slug: str = "acme", name: str = "acme-lm",
                        version: str = "2") -> tuple[Provider, AISystem]:
    provider = Provider(slug=slug, name=slug.title())
    session.add(provider)
    session.flush()
    system = AISystem(provider_id=provider.id or 0, name=name, version=version)
    session.add(system)
    session.flush()
    return provider, system


def regime(session: Session, regime_id: str = "eu-aia-gpaisr-presumption") -> Regime:
    row = Regime(id=regime_id, jurisdiction="EU", instrument="AI Act", metric="training_flop_cumulative",
                 comparator=">", threshold=1e25, state="in_force", definition_json="{}")
    session.add(row)
    session.flush()
    return row


def flag(session: Session, system: AISystem, regime_id: str, deadline: date | None,
         status: str = "above") -> Flag:
    row = Flag(subject_kind="system", subject_id=system.id or 0, regime_id=regime_id, status=status,
               value_central=3.8e25, value_low=2.9e25, value_high=4.9e25, threshold=1e25,
               deadline=deadline)
    session.add(row)
    session.flush()
    return row


def log_path(tmp_path: Path) -> Path:
    return tmp_path / "alerts.jsonl"
