"""Systems for registration tests: worked public figures, filed straight through the models."""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.registry.factories import add_system_with_run
from tracker.auth.tokens import create_token
from tracker.store.models import Provider

AS_OF = date(2026, 11, 27)
EU = "eu-aia-gpaisr-presumption"


def add_llama(engine: Engine, provider: str = "meta", name: str = "Llama 3.1 405B") -> int:
    # Llama 3.1 405B as its model card files it (reference/methodology.md): 30.84M H100-hours,
    # 405B parameters x 15.6T tokens, 3.8e25 FLOP reported: above the EU's 10^25 presumption.
    return add_system_with_run(
        engine, provider=provider, system=name, accelerator="NVIDIA H100 SXM5", chip_hours=30.84e6,
        precision="bf16", parameters=405e9, training_tokens=15.6e12, reported_flop=3.8e25,
        end_date=date(2024, 7, 1),
    )


def add_small(engine: Engine, provider: str, name: str) -> int:
    # 7B parameters x 2T tokens x 6 = 8.4e22 FLOP: below every 10^25 threshold.
    return add_system_with_run(engine, provider=provider, system=name, parameters=7e9, training_tokens=2e12,
                               end_date=date(2024, 1, 1))


def token_for(engine: Engine, slug: str) -> str:
    with Session(engine) as session, session.begin():
        provider = session.exec(select(Provider).where(Provider.slug == slug)).first()
        if provider is None:
            provider = Provider(slug=slug, name=slug.title())
            session.add(provider)
            session.flush()
        assert provider.id is not None
        plaintext, _ = create_token(session, user_id=None, provider_id=provider.id, name="test")
    return plaintext
