"""Shipped pretrained models (safetensors + model cards)."""
