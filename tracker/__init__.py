"""Compute threshold tracker: estimates AI training and inference compute from provider
disclosures and flags the systems that cross legal registration thresholds."""

__version__ = "0.1.0"
