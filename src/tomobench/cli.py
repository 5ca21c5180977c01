"""``tomobench`` command line: score picks as SHREC 2021 did, export picks as STAR files.

    tomobench evaluate --truth model_9/ --picks picks.txt --out results/
    tomobench export-star --picks picks.txt --out picks.star --voxel-size-nm 1.0

Bad input prints one error line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tomobench.errors import InputError

_EVALUATE_HELP = """\
Score one submission file, or every *.txt below a folder, against a SHREC ground-truth folder
(particle_locations.txt + occupancy_mask.mrc; the 512-cube release, the 180-slab release and
tomobench's own data/model_<i> folders all work).

Submissions: one particle per line, '<class> <x> <y> <z> [anything]', whitespace separated,
coordinates in voxels of the reconstruction (x fastest). Lines starting with '#' are skipped.

Writes, per submission <name> (the file stem, or its path below the folder without .txt, so
a/b.txt and a_b.txt stay apart: <out>/a/b.json and <out>/a_b.json):
  <name>.json            every number (localization, confusion matrix, per-class, CZII)
  <name>.txt             the text report (the organisers' localization block and more)
  <name>_confusion.csv   confusion matrix, rows actual, columns predicted (+ background)
  <name>_confusion.png   the same, classes ordered by molecular weight
and summary.csv with one row of localization numbers per submission. Files named
particle_locations.txt below a picks folder are ground truth, not submissions: they are listed
as skipped. --out must lie outside a picks folder (its reports would be read as submissions by
the next run) and may never replace an input file.

Modes: 'published' reproduces the organisers' eval.py (recall over all particle lines except
4V94, vesicles included; predictions on 4V94/vesicles kept in RR); 'corrected' excludes vesicles
from the recall denominator and ignores predictions on excluded particles. Where the original
script would crash (unknown first-hit label, nothing missed) the numbers are computed anyway
and a warning is added to the report.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _slab_offset(text: str):
    if text == "auto":
        return "auto"
    if text == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected auto, none or an integer, got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tomobench", description="Score particle picks as SHREC 2021 did "
                     "(plus the CZII metric) and export picks as STAR files.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    evaluate = commands.add_parser(
        "evaluate", help="score picks as the SHREC 2021 organisers did (+ CZII metric)",
        description=_EVALUATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("--truth", required=True, type=Path, metavar="DIR",
                          help="ground-truth folder with particle_locations.txt and "
                               "occupancy_mask.mrc")
    evaluate.add_argument("--picks", required=True, type=Path, metavar="FILE|DIR",
                          help="a submission .txt, or a folder searched recursively for *.txt")
    evaluate.add_argument("--out", required=True, type=Path, metavar="DIR",
                          help="output folder (created; files of the same name are replaced)")
    evaluate.add_argument("--mode", choices=("published", "corrected"), default="published",
                          help="published (default): the organisers' numbers; corrected: "
                               "recall denominator and exclusion quirks fixed")
    evaluate.add_argument("--slab-offset", type=_slab_offset, default="auto", metavar="auto|none|N",
                          help="z offset of a slab-shaped occupancy mask in the cube: auto "
                               "(default; detected from the particle centres, only when particle "
                               "z lies beyond the slab), none (never pad) or an integer "
                               "(SHREC 2021: 166)")
    evaluate.add_argument("--volume-shape", type=int, nargs=3, metavar=("Z", "Y", "X"),
                          help="evaluation volume in voxels (clipping bounds); default: the "
                               "mask's shape, or a cube when a slab is padded")
    evaluate.add_argument("--voxel-size-nm", type=_positive, metavar="NM",
                          help="voxel size for the CZII radii (default: the mask header; "
                               "1 nm when the header has none)")
    evaluate.add_argument("--czii-radius-fraction", type=_positive, default=0.5, metavar="F",
                          help="CZII match radius as a fraction of the particle radius "
                               "(default 0.5)")
    evaluate.add_argument("--czii-beta", type=_positive, default=4.0, metavar="B",
                          help="beta of the CZII F-beta score (default 4)")
    evaluate.add_argument("--fiducial-radius-nm", type=_positive, default=None, metavar="NM",
                          help="gold fiducial radius for the CZII metric (default 3.5)")
    evaluate.add_argument("--no-plots", action="store_true",
                          help="skip the confusion-matrix PNGs")
    evaluate.set_defaults(run=run_evaluate)

    export = commands.add_parser(
        "export-star", help="write picks as a RELION/Warp STAR file",
        description="Convert a submission ('<class> <x> <y> <z> [score]') into a STAR file with "
                    "rlnCoordinateX/Y/Z in voxels, rlnClassNumber (SHREC class id), "
                    "rlnMicrographName/rlnTomoName and rlnAutopickFigureOfMerit (scores). With "
                    "--voxel-size-nm an optics block (rlnImagePixelSize, Å) is added.")
    export.add_argument("--picks", required=True, type=Path, metavar="FILE",
                        help="submission text file")
    export.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="STAR file to write")
    export.add_argument("--voxel-size-nm", type=_positive, metavar="NM",
                        help="tomogram voxel size; adds the optics block")
    export.add_argument("--tomogram-name", metavar="NAME",
                        help="rlnTomoName/rlnMicrographName (default: the picks file stem)")
    export.set_defaults(run=run_export_star)
    return parser


#: Ground-truth lists found in a picks folder are not submissions.
TRUTH_LIST_NAME = "particle_locations.txt"


def _submissions(picks: Path) -> tuple[list[tuple[str, Path]], list[Path]]:
    """``([(name, file)], skipped files)``: a name is the file's path below the picks folder
    without ``.txt`` (``a/b``), or the stem of a single file; skipped: ground-truth lists."""
    if picks.is_dir():
        found = sorted(p for p in picks.rglob("*.txt") if p.is_file())
        files = [p for p in found if p.name != TRUTH_LIST_NAME]
        if not files:
            raise InputError(f"{picks}: no *.txt submission files in this folder")
        named = [(p.relative_to(picks).with_suffix("").as_posix(), p) for p in files]
        return named, [p for p in found if p.name == TRUTH_LIST_NAME]
    if not picks.is_file():
        raise InputError(f"{picks}: picks file or folder not found")
    return [(picks.stem, picks)], []


def _report_paths(out: Path, name: str, plots: bool) -> list[Path]:
    suffixes = [".json", ".txt", "_confusion.csv"] + (["_confusion.png"] if plots else [])
    return [out / f"{name}{suffix}" for suffix in suffixes]


def _check_out(args, submissions: list[tuple[str, Path]]) -> None:
    """``--out`` outside a picks folder, and no report path equal to an input file."""
    out = args.out.resolve()
    picks = args.picks.resolve()
    if args.picks.is_dir() and (out == picks or picks in out.parents):
        raise InputError(f"--out {args.out} lies in the picks folder {args.picks}: the next run "
                         "would read its reports (*.txt) as submissions; choose a folder outside")
    inputs = {p.resolve(): p for _, p in submissions}
    inputs.update({(args.truth / f).resolve(): args.truth / f
                   for f in (TRUTH_LIST_NAME, "occupancy_mask.mrc")})
    for name, _ in submissions:
        for path in _report_paths(args.out, name, not args.no_plots):
            if path.resolve() in inputs:
                raise InputError(f"--out {args.out}: the report {path} would replace the input "
                                 f"{inputs[path.resolve()]}; choose another output folder")


def run_evaluate(args) -> None:
    import pandas as pd

    from tomobench.atomic import write_text_atomic
    from tomobench.evaluation.confusion import (
        confusion_frame,
        save_confusion_figure,
        write_confusion_csv,
    )
    from tomobench.evaluation.shrec import (
        evaluate_submission,
        json_ready,
        load_ground_truth_folder,
        write_text_report,
    )
    from tomobench.workflow_support import write_json

    submissions, skipped = _submissions(args.picks)
    _check_out(args, submissions)
    for path in skipped:
        print(f"skipped {path}: a ground-truth list, not a submission")
    truth = load_ground_truth_folder(
        args.truth, slab_offset=args.slab_offset,
        volume_shape=tuple(args.volume_shape) if args.volume_shape else None,
        voxel_size_nm=args.voxel_size_nm)
    rows = []
    for name, path in submissions:
        result = evaluate_submission(
            truth, path, mode=args.mode, czii_radius_fraction=args.czii_radius_fraction,
            czii_beta=args.czii_beta, fiducial_radius_nm=args.fiducial_radius_nm)
        json_path, text_path, csv_path, *png_path = _report_paths(args.out, name,
                                                                  not args.no_plots)
        write_json(json_path, json_ready(result))
        write_text_report(text_path, result, title=str(path))
        frame = confusion_frame(result["classification"])
        write_confusion_csv(csv_path, frame)
        if png_path:
            save_confusion_figure(png_path[0], frame, title=name)
        loc = result["localization"]
        rows.append({"submission": name, **{k: loc[k] for k in (
            "RR", "N", "TP", "FP", "FN", "MH", "RO", "AD", "recall", "precision", "miss_rate",
            "F1")}, "czii_fbeta_micro": result["czii"]["fbeta_micro"]})
        print(f"{name}: TP {loc['TP']} FP {loc['FP']} FN {loc['FN']} recall {loc['recall']:.5f} "
              f"precision {loc['precision']:.5f} F1 {loc['F1']:.5f}")
        for warning in result["warnings"]:
            print(f"  warning: {warning}")
    summary = pd.DataFrame(rows).to_csv(index=False, float_format="%.6g", lineterminator="\n")
    write_text_atomic(args.out / "summary.csv", summary)


def run_export_star(args) -> None:
    from tomobench.evaluation.star import write_star
    from tomobench.particles import read_picks

    picks = read_picks(args.picks)
    write_star(args.out, picks, tomogram_name=args.tomogram_name or args.picks.stem,
               voxel_size_nm=args.voxel_size_nm)
    print(f"wrote {len(picks)} particles to {args.out}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tomobench`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (InputError, OSError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"tomobench {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
