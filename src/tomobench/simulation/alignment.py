"""PyTom-style alignment text file (``alignment_simulated.txt``), one row per tilt.

Format (whitespace separated, ``#`` lines are comments; six header lines as the SHREC'21
release): ``AlignmentTransX AlignmentTransY TiltAngle Rotation Magnification OperationOrder
FileName``. As the organisers' simulator writes it, the row holds the transform that *undoes*
the simulated acquisition: the translations are −1 × the simulated image shift (unbinned
pixels, x then y), and TiltAngle is −1 × the nominal tilt angle (degrees). Rotation = 0 and
Magnification = 1 (no in-plane jitter is simulated); OperationOrder is ``TRS``; FileName names
the stack and the 0-based section, ``projections.mrc:<i>``.
"""

from __future__ import annotations

import numpy as np

from tomobench.atomic import write_text_atomic
from tomobench.errors import InputError
from tomobench.io import text_rows

HEADER = (
    "# tomobench simulated alignment (PyTom alignment-results layout)\n"
    "# AlignmentTransX AlignmentTransY TiltAngle Rotation Magnification OperationOrder FileName\n"
    "# AlignmentTransX/Y: -1 x simulated image shift, unbinned pixels\n"
    "# TiltAngle: -1 x nominal tilt angle (degrees), as the SHREC'21 simulator\n"
    "# Rotation: in-plane rotation (degrees); Magnification: scale factor\n"
    "# OperationOrder: order of translation, rotation, scaling; FileName: stack:section\n"
)


def write_alignment(path, tilt_angles_deg, shifts_px, stack_name: str = "projections.mrc") -> None:
    """Write the alignment file for nominal ``tilt_angles_deg`` (n,) and image shifts
    ``shifts_px`` (n, 2) = (x, y) in unbinned pixels, atomically."""
    lines = [HEADER]
    for i, (angle, (dx, dy)) in enumerate(zip(tilt_angles_deg, shifts_px, strict=True)):
        lines.append(f"{-dx:.6f} {-dy:.6f} {-angle:.6f} 0.000000 1.000000 TRS {stack_name}:{i}\n")
    write_text_atomic(path, "".join(lines))


def read_alignment(path) -> tuple[np.ndarray, np.ndarray]:
    """Return nominal tilt angles (n,) in degrees and simulated shifts (n, 2) = (x, y) pixels."""
    angles, shifts = [], []
    for number, fields, _ in text_rows(path, what="alignment file"):
        if len(fields) < 5:
            raise InputError(f"{path}:{number}: expected at least 5 columns")
        try:
            tx, ty, angle, rotation, magnification = (float(v) for v in fields[:5])
        except ValueError as error:
            raise InputError(f"{path}:{number}: expected 5 numbers first ({error})") from error
        if rotation != 0 or magnification != 1:
            raise InputError(f"{path}:{number}: rotation/magnification corrections unsupported")
        angles.append(-angle)
        shifts.append((-tx, -ty))
    if not angles:
        raise InputError(f"{path}: no alignment rows")
    return np.array(angles), np.array(shifts)
