"""tomobench: a reproducible re-implementation of the SHREC 2021 cryo-ET picking benchmark.

Sub-packages hold the physics (structures, simulation, reconstruction), the pickers
(methods), the scoring (evaluation) and the paper outputs (paper). Workflow scripts under
``workflow/scripts`` are thin adapters over this package.
"""

__version__ = "0.1.0"
