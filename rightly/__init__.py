"""Rightly: a self-hostable privacy request manager."""

__version__ = "0.1.0"
