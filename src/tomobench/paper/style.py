"""One look for every figure: the class colours, the controls' reference-line styles.

The class palette holds 15 colours (the 13 SHREC proteins, vesicle, fiducial) picked from the
Okabe-Ito, Paul Tol (muted, light) and IBM colour-blind-safe sets so that any two differ by a
CIEDE2000 distance of at least 10 in normal vision and in simulated deuteranopia and
protanopia (Machado et al. 2009, severity 1; ``tests/test_figures.py`` checks it). Proteins are
assigned in order of molecular weight so that classes of similar weight, which a picker confuses
most, get the most different colours; fiducials are gold-yellow, vesicles pale cyan and the
unscored 4V94 black.
"""

from __future__ import annotations

#: Class name -> colour (hex). Every figure takes its class colours from here.
CLASS_COLOURS: dict[str, str] = {
    "1S3X": "#D55E00",
    "3QM1": "#332288",
    "3GL1": "#77AADD",
    "3H84": "#44BB99",
    "2CG9": "#E69F00",
    "3D2F": "#882255",
    "1U6G": "#1A85FF",
    "3CF3": "#FFAABB",
    "1BXN": "#CC79A7",
    "1QVR": "#D41159",
    "4CR2": "#AA4499",
    "5MRC": "#EE6677",
    "4V94": "#000000",
    "vesicle": "#99DDFF",
    "fiducial": "#F0E442",
}
#: Colour of a class name outside the SHREC table (e.g. in a foreign submission).
UNKNOWN_CLASS_COLOUR = "#7F7F7F"

#: Reference-line style of each control (drawn behind the methods, never in a method colour).
CONTROL_STYLES: dict[str, dict] = {
    "oracle": {"color": "0.25", "linestyle": "--", "linewidth": 1.0},
    "random": {"color": "0.45", "linestyle": ":", "linewidth": 1.4},
}


def class_colour(name: str) -> str:
    """The fixed colour of class ``name`` (grey for a name outside the SHREC table)."""
    return CLASS_COLOURS.get(str(name), UNKNOWN_CLASS_COLOUR)


def class_colours(names) -> dict[str, str]:
    """``{name: colour}`` for ``names`` (the same colour for a class in every figure)."""
    return {str(name): class_colour(name) for name in names}


def control_style(label: str) -> dict:
    """Line style of a control, by its table label (``"oracle (control)"`` or the bare name)."""
    base = str(label).split(" ")[0]
    return dict(CONTROL_STYLES.get(base, {"color": "0.5", "linestyle": "-.", "linewidth": 1.0}))
