"""Policies: one batched interface for baselines, bandits, pacing and the oracle."""
