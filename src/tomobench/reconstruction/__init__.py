"""Tomographic reconstruction (weighted back-projection) in the SHREC final frame."""
