"""Template matching (the SHREC 2021 TM and TM-F baselines, PyTom-style FLCF).

Modules: ``angles`` (SO(3) sampling), ``templates`` (templates, masks, CTF, low-pass),
``correlation`` (the FLCF search, numpy or cupy), ``extraction`` (TM / TM-F particle lists),
``pipeline`` (the steps the workflow scripts call).
"""

from tomobench.methods.template_matching.pipeline import (
    EXTRACTION_DEFAULTS,
    SEARCH_DEFAULTS,
    extract_picks,
    extraction_settings,
    load_class_search,
    search_class,
    write_search,
)

__all__ = [
    "EXTRACTION_DEFAULTS",
    "SEARCH_DEFAULTS",
    "extract_picks",
    "extraction_settings",
    "load_class_search",
    "search_class",
    "write_search",
]
