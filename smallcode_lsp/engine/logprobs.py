"""Greedy token choice with its log-probability, computed from one step's raw logits.

Computing the log-softmax of the chosen token ourselves means llama.cpp never has to keep
logits for every prompt position (`logits_all`), which would cost n_ctx x n_vocab floats.
"""

from __future__ import annotations

import math

import numpy as np


def greedy_choice(logits: np.ndarray) -> tuple[int, float]:
    """Returns (argmax token id, its natural-log probability under softmax(logits))."""
    token = int(np.argmax(logits))
    best = float(logits[token])
    if not math.isfinite(best):
        return token, 0.0 if best > 0 else -math.inf
    total = float(np.exp(logits - best, dtype=np.float64).sum())
    return token, -math.log(total)
