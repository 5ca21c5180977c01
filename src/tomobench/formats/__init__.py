"""Exchange formats of the cryo-ET ecosystem, in and out of tomobench's SHREC layout.

- :mod:`tomobench.formats.relion`: RELION 5 / RELION 4 particle STAR files (``starfile``).
- :mod:`tomobench.formats.copick_project`: copick projects (the ``copick`` library) with
  OME-Zarr tomograms, points and segmentations; read back for scoring.
- :mod:`tomobench.formats.portal`: CryoET Data Portal point / oriented-point ndjson annotations.
- :mod:`tomobench.formats.submissions`: the submissions ``tomobench evaluate`` reads (SHREC
  text, RELION 4/5 STAR, CSV), recognised by extension or content.

Orientations are translated from the one convention of :mod:`tomobench.orientation`.
"""
