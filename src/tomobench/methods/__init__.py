"""Particle pickers: template matching (TM, TM-F), DoG, LoG fiducials, learning-based methods."""
