"""Numbers published in the SHREC 2021 paper (Gubins et al., 3DOR 2021, arXiv 2203.10035).

Typed from Tables 2–7 of the paper. Class names are the SHREC names of
:mod:`tomobench.classes` (the paper prints PDB ids in lower case). Method names are the paper's.
"""

from __future__ import annotations

from tomobench.classes import SIZE_GROUPS, size_group_label

#: Paper method names in the order of its tables.
PAPER_METHODS = ("URFinder", "DeepFinder", "U-CLSTM", "MC DS Net", "YOPO", "CFN", "TM-F", "TM")


#: Table 2: particles per class in the test tomogram (model_9).
TABLE2_TEST_COUNTS = {
    "1S3X": 122, "3QM1": 120, "3GL1": 123, "3H84": 144, "2CG9": 125, "3D2F": 140, "1U6G": 143,
    "3CF3": 139, "1BXN": 135, "1QVR": 127, "4CR2": 115, "5MRC": 121, "fiducial": 11,
}

#: §2.1: SNR = var(signal) / var(noise) of the ten tomograms (range) and of the test tomogram.
SNR_RANGE = (0.12, 0.58)
SNR_TEST = 0.24

#: Table 3: localisation (the paper has no RO column).
TABLE3_COLUMNS = ("RR", "TP", "FP", "FN", "MH", "AD", "recall", "precision", "miss_rate", "F1")
TABLE3_LOCALIZATION = {
    "URFinder": (1969, 1298, 377, 267, 149, 1.84, 0.826, 0.659, 0.174, 0.733),
    "DeepFinder": (1567, 1362, 64, 203, 20, 2.22, 0.867, 0.869, 0.133, 0.868),
    "U-CLSTM": (1460, 1253, 49, 312, 44, 2.13, 0.798, 0.858, 0.202, 0.827),
    "MC DS Net": (1760, 1415, 239, 150, 56, 1.59, 0.901, 0.804, 0.099, 0.850),
    "YOPO": (1627, 1224, 232, 341, 14, 1.66, 0.720, 0.752, 0.221, 0.765),
    "CFN": (1765, 1364, 239, 201, 20, 1.52, 0.868, 0.773, 0.132, 0.818),
    "TM-F": (1772, 963, 295, 601, 17, 2.65, 0.613, 0.543, 0.387, 0.576),
    "TM": (4195, 1073, 583, 492, 716, 2.62, 0.683, 0.256, 0.317, 0.372),
}

#: Table 4: per-class F1 (columns light to heavy, then fiducial).
TABLE4_CLASS_F1 = {
    "URFinder": (0.000, 0.423, 0.453, 0.600, 0.542, 0.672, 0.673, 0.867, 0.967, 0.860, 0.926,
                 0.954, 0.429),
    "DeepFinder": (0.402, 0.481, 0.517, 0.701, 0.716, 0.766, 0.737, 0.964, 0.989, 0.953, 0.974,
                   0.996, 1.000),
    "U-CLSTM": (0.277, 0.415, 0.389, 0.561, 0.511, 0.651, 0.566, 0.946, 0.989, 0.903, 0.991,
                1.000, 1.000),
    "MC DS Net": (0.316, 0.487, 0.603, 0.783, 0.782, 0.791, 0.797, 0.956, 0.985, 0.934, 0.979,
                  1.000, 1.000),
    "YOPO": (0.203, 0.148, 0.471, 0.601, 0.626, 0.627, 0.613, 0.884, 0.938, 0.920, 0.983, 0.966,
             0.952),
    "CFN": (0.250, 0.511, 0.613, 0.768, 0.714, 0.761, 0.731, 0.971, 0.996, 0.969, 0.996, 1.000,
            1.000),
    "TM-F": (0.040, 0.189, 0.200, 0.282, 0.308, 0.439, 0.129, 0.592, 0.962, 0.513, 0.827, 0.857,
             0.900),
    "TM": (0.054, 0.197, 0.266, 0.302, 0.345, 0.452, 0.133, 0.615, 0.966, 0.545, 0.950, 0.857,
           0.900),
}

#: Table 5: size groups by molecular weight (kDa): the class table's groups and bounds.
TABLE5_SIZE_GROUPS = {group: (size_group_label(group), members)
                      for group, members in SIZE_GROUPS.items()}

#: Table 6: mean F1 per size group.
TABLE6_GROUP_F1 = {
    "URFinder": (0.404, 0.808, 0.94),
    "DeepFinder": (0.563, 0.882, 0.985),
    "U-CLSTM": (0.431, 0.811, 0.996),
    "MC DS Net": (0.594, 0.893, 0.989),
    "YOPO": (0.41, 0.796, 0.974),
    "CFN": (0.571, 0.886, 0.998),
    "TM-F": (0.204, 0.527, 0.842),
    "TM": (0.233, 0.542, 0.903),
}

#: Table 7: reported training and inference time, as printed and in seconds (None = not
#: applicable / not reported). The paper gives one row "TM-F/TM GPU" for both matchers.
TABLE7_TIMINGS = {
    "URFinder": ("300h", "2h 6m"),
    "DeepFinder": ("50h", "20m"),
    "U-CLSTM": ("120h", "15m"),
    "MC DS Net": ("22h", "5m"),
    "YOPO": ("8h", "40m"),
    "CFN": ("96h", ""),
    "TM-F": ("N/A", "4h 26m"),
    "TM": ("N/A", "4h 26m"),
}


def duration_seconds(text: str) -> float | None:
    """Seconds of a duration such as ``"2h 6m"``, ``"20m"``, ``"300h"``; None for ``N/A``/``""``."""
    text = text.strip()
    if not text or text.upper() == "N/A":
        return None
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    total = 0.0
    for part in text.split():
        total += float(part[:-1]) * units[part[-1]]
    return total
