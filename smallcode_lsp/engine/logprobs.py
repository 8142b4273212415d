"""Token choice (greedy, or sampled for retries) with its log-probability, from one step's raw logits.

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


class TemperatureSampler:
    """Nucleus sampling at a temperature, seeded: a retry that must not repeat the greedy answer.

    Used only by the agent loops' later attempts: the same conversation decoded greedily tends to
    give the same wrong fix again, while a verified loop can afford to explore. The reported
    log-probability is the model's own (temperature 1), so confidence stays comparable.
    """

    def __init__(self, temperature: float, top_p: float = 0.95, seed: int = 0) -> None:
        if temperature <= 0:
            raise ValueError("temperature must be positive; use greedy_choice for temperature 0")
        self.temperature = temperature
        self.top_p = top_p
        self._rng = np.random.default_rng(seed)

    def __call__(self, logits: np.ndarray) -> tuple[int, float]:
        values = np.asarray(logits, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            return greedy_choice(logits)
        values = np.where(finite, values, -np.inf)
        best = float(values.max())
        natural = np.exp(values - best)
        log_total = math.log(float(natural.sum()))
        scaled = np.exp((values - best) / self.temperature)
        probabilities = scaled / scaled.sum()
        order = np.argsort(-probabilities)
        cumulative = np.cumsum(probabilities[order])
        keep = order[: int(np.searchsorted(cumulative, self.top_p)) + 1]
        weights = probabilities[keep] / probabilities[keep].sum()
        token = int(self._rng.choice(keep, p=weights))
        return token, float(values[token] - best - log_total)
