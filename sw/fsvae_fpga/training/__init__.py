"""Training: one run per run folder (train) and safe checkpoints (checkpoint).
"""
