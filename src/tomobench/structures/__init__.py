"""Structures and electrostatic potentials: sources, assemblies, potentials, vesicles, gold."""
