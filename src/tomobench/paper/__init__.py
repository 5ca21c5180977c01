"""The SHREC 2021 paper's outputs: published numbers, tables, figures, timings."""
