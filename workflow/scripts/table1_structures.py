"""Snakemake script: Table 1 of the paper (our shape descriptors vs the published ones)."""


from tomobench.atomic import write_text_atomic
from tomobench.paper.tables import caption_html, to_html
from tomobench.structures.compute import table1_row
from tomobench.structures.potential import PotentialOptions
from tomobench.structures.table1 import (
    Table1Options,
    build_table,
    display_table,
    to_latex,
    to_markdown,
)
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
p = snakemake.params
table_options = Table1Options(**p.table1)
potential_options = PotentialOptions(**p.options)
rows = []
for pdb_id, path in zip(p.classes, snakemake.input.structures, strict=True):
    row = table1_row(path, pdb_id, table_options, potential_options)
    log.info("%s: %s", pdb_id, row)
    rows.append(row)
table = build_table(rows)
write_text_atomic(snakemake.output.csv, table.to_csv(index=False, float_format="%.6g"))
write_text_atomic(snakemake.output.md, to_markdown(table))
write_text_atomic(snakemake.output.tex, to_latex(table))
caption = "Table 1: structures, tomobench / paper (relative difference)"
write_text_atomic(snakemake.output.html, to_html(
    display_table(table), caption=caption, description=caption_html(snakemake.params.caption)))
log.info("done")
