"""SHREC 2021 image formation: scenes (grand models), tilt series (multislice, CTF, detector)."""
