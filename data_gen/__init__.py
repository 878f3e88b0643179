"""Synthetic data with known ground truth. Nothing here downloads."""
