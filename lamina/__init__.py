"""Lamina: an open reproduction of the LLaMA-1 data pipeline and pretraining stage."""

__version__ = "0.1.0"
