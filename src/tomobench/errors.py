"""Exceptions raised for bad user input (files, config values)."""


class InputError(ValueError):
    """A user-supplied file or configuration value is invalid.

    The message always names the offending file (and line) or configuration key.
    """
