"""Training runs as their developers disclosed them, shared by the estimation tests."""

from __future__ import annotations

from typing import Any

# Llama 3.1 405B: 30.84M H100-hours in BF16, 405B parameters, 15.6T tokens; Meta reports 3.8e25 FLOP
# (meta-llama/llama-models MODEL_CARD.md; arXiv:2407.21783).
LLAMA_31_405B: dict[str, Any] = {
    "accelerator": "NVIDIA H100 SXM5",
    "chip_hours": 30.84e6,
    "precision": "bf16",
    "parameters": 405e9,
    "training_tokens": 15.6e12,
}
LLAMA_31_405B_REPORTED_FLOP = 3.8e25
