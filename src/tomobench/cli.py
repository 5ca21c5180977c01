"""``tomobench`` command line: score picks as SHREC 2021 did; exchange formats.

    tomobench evaluate --truth model_9/ --picks picks.txt --out results/
    tomobench export-star --picks picks.txt --data model_9/ --out picks.star

Bad input prints one error line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tomobench import __version__
from tomobench.errors import InputError
from tomobench.io import GROUND_TRUTH_FILES, MODEL_FILES, model_files

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
                     "(plus the CZII metric) and exchange them with RELION, copick and the "
                     "CryoET Data Portal.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    evaluate = commands.add_parser(
        "evaluate", help="score picks as the SHREC 2021 organisers did (+ CZII metric)",
        description=_EVALUATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("--truth", required=True, type=Path, metavar="DIR",
                          help="ground-truth folder with particle_locations.txt and "
                               "occupancy_mask.mrc, or a copick configuration (.json)")
    evaluate.add_argument("--picks", required=True, type=Path, metavar="FILE|DIR",
                          help="a submission .txt, or a folder searched recursively for *.txt")
    evaluate.add_argument("--out", required=True, type=Path, metavar="DIR",
                          help="output folder (created; files of the same name are replaced)")
    evaluate.add_argument("--mode", choices=("published", "corrected"), default="corrected",
                          help="corrected (default, as the workflow): recall denominator and "
                               "exclusion quirks fixed, the ground truth scores 1; published: "
                               "the organisers' numbers, quirks included")
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
    evaluate.add_argument("--bootstrap-resamples", type=int, default=1000, metavar="N",
                          help="resamples of the 95 %% bootstrap confidence intervals "
                               "(default 1000; 0 = none)")
    evaluate.add_argument("--seed", type=int, default=0, metavar="S",
                          help="seed of the bootstrap resampling (default 0)")
    evaluate.add_argument("--no-plots", action="store_true",
                          help="skip the confusion-matrix PNGs")
    _add_copick_evaluate_options(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    _add_export_commands(commands)
    from tomobench.view import add_view_parser  # napari itself is imported only by `view`

    add_view_parser(commands)
    return parser


#: Ground-truth lists found in a picks folder are not submissions.
TRUTH_LIST_NAME = MODEL_FILES["particle_locations"]


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
    inputs.update({path.resolve(): path
                   for path in model_files(args.truth, GROUND_TRUTH_FILES).values()})
    for name, _ in submissions:
        for path in _report_paths(args.out, name, not args.no_plots):
            if path.resolve() in inputs:
                raise InputError(f"--out {args.out}: the report {path} would replace the input "
                                 f"{inputs[path.resolve()]}; choose another output folder")


def _write_evaluation(args, name: str, result: dict, *, title: str) -> dict:
    """Write one submission's JSON, text report, confusion CSV (and PNG); return its summary row."""
    from tomobench.evaluation.report import write_evaluation

    json_path, text_path, csv_path, *png_path = _report_paths(args.out, name,
                                                              not args.no_plots)
    write_evaluation(result, json_path, text_path, csv_path, title=title,
                     figure_path=png_path[0] if png_path else None, figure_title=name)
    loc = result["localization"]
    print(f"{name}: TP {loc['TP']} FP {loc['FP']} FN {loc['FN']} recall {loc['recall']:.5f} "
          f"precision {loc['precision']:.5f} F1 {loc['F1']:.5f}")
    for warning in result["warnings"]:
        print(f"  warning: {warning}")
    intervals = result["confidence_intervals"]["localization"]
    return {"submission": name, **{k: loc[k] for k in (
        "RR", "N", "TP", "FP", "FN", "MH", "RO", "AD", "recall", "precision", "miss_rate",
        "F1")}, **{f"{metric}_{end}": value for metric, bounds in intervals.items()
                   for end, value in zip(("lo", "hi"), bounds, strict=True)},
        "czii_fbeta_micro": result["czii"]["fbeta_micro"]}


def run_evaluate(args) -> None:
    from tomobench.evaluation.shrec import evaluate_submission
    from tomobench.evaluation.truth import load_ground_truth_folder
    from tomobench.formats.copick_project import is_copick_config

    if is_copick_config(args.truth):
        run_evaluate_copick(args)
        return
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
            czii_beta=args.czii_beta, fiducial_radius_nm=args.fiducial_radius_nm,
            bootstrap_resamples=args.bootstrap_resamples, seed=args.seed)
        rows.append(_write_evaluation(args, name, result, title=str(path)))
    _write_summary(args.out, rows)


def _write_summary(out: Path, rows: list[dict]) -> None:
    import pandas as pd

    from tomobench.atomic import write_text_atomic

    summary = pd.DataFrame(rows).to_csv(index=False, float_format="%.6g", lineterminator="\n")
    write_text_atomic(out / "summary.csv", summary)


def _add_copick_evaluate_options(evaluate) -> None:
    """Options of ``evaluate`` on a copick project (--truth/--picks given as its JSON config)."""
    group = evaluate.add_argument_group(
        "copick projects", "--truth and --picks may be copick configuration files (.json, the "
        "same or two projects): each run is scored and named after itself, coordinates in "
        "voxels of --voxel-size-nm (default: the run's only voxel spacing). Needs the copick "
        "library (pip install 'tomobench[formats]').")
    group.add_argument("--truth-user", default="ground-truth", metavar="USER",
                       help="copick user id of the ground truth (default ground-truth, as "
                            "export-copick writes; the CZII challenge data use curation)")
    group.add_argument("--truth-session", metavar="SESSION",
                       help="copick session id of the ground truth (default: any)")
    group.add_argument("--picks-user", metavar="USER", help="copick user id of the picks")
    group.add_argument("--picks-session", metavar="SESSION",
                       help="copick session id of the picks (default: any)")
    group.add_argument("--runs", nargs="+", metavar="RUN",
                       help="copick runs to score (default: every run with points of the "
                            "picks user)")
    group.add_argument("--tomo-type", metavar="TYPE",
                       help="tomogram type whose shape bounds the picks (default: any)")


def run_evaluate_copick(args) -> None:
    """``evaluate`` on copick projects: one result per run, named after the run."""
    from tomobench.evaluation.shrec import evaluate_picks
    from tomobench.formats import copick_project

    if not args.picks_user:
        raise InputError("--picks-user: give the copick user id of the picks to score")
    truth_root = copick_project.open_project(args.truth)
    picks_root = (truth_root if args.picks.resolve() == args.truth.resolve()
                  else copick_project.open_project(args.picks))
    spacing_A = args.voxel_size_nm * 10.0 if args.voxel_size_nm else None
    rows = []
    runs = args.runs or copick_project.run_names(picks_root, args.picks_user,
                                                 args.picks_session)
    if not runs:
        raise InputError(f"{args.picks}: no copick run has points of user {args.picks_user!r}")
    for run in runs:
        truth = copick_project.load_ground_truth(
            truth_root, run, user_id=args.truth_user, session_id=args.truth_session,
            voxel_size_A=spacing_A, tomo_type=args.tomo_type, config_path=str(args.truth))
        picks = copick_project.load_picks(picks_root, run, args.picks_user, args.picks_session,
                                          truth.voxel_size_nm * 10.0)
        source = f"{args.picks} run {run} user {args.picks_user}"
        result = evaluate_picks(truth, picks, source=source, mode=args.mode,
                                czii_radius_fraction=args.czii_radius_fraction,
                                czii_beta=args.czii_beta,
                                fiducial_radius_nm=args.fiducial_radius_nm,
                                bootstrap_resamples=args.bootstrap_resamples, seed=args.seed)
        rows.append(_write_evaluation(args, run, result, title=source))
    _write_summary(args.out, rows)


def _add_export_commands(commands) -> None:
    """The exchange-format subcommands (export-star, export-copick, export-portal)."""
    export = commands.add_parser(
        "export-star", help="write picks or a ground truth as a RELION 5 (or 4) STAR file",
        description=_EXPORT_STAR_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("--picks", required=True, type=Path, metavar="FILE",
                        help="submission text file, or a particle_locations.txt")
    export.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="STAR file to write")
    export.add_argument("--data", type=Path, metavar="DIR",
                        help="the tomogram's folder (reconstruction.mrc [+ "
                             "acquisition_parameters.json]): shape, voxel size, acquisition")
    export.add_argument("--relion", type=int, choices=(4, 5), default=5,
                        help="5 (default): centred coordinates in Å; 4: unbinned pixels")
    export.add_argument("--ground-truth", action="store_true",
                        help="the file is a particle_locations.txt (default: when so named)")
    export.add_argument("--tomogram-name", metavar="NAME",
                        help="rlnTomoName (default: the --data folder name, else the picks "
                             "file's folder for particle_locations.txt, else its stem)")
    export.add_argument("--voxel-size-nm", type=_positive, metavar="NM",
                        help="tomogram voxel size (default: the reconstruction header)")
    export.add_argument("--volume-shape", type=int, nargs=3, metavar=("Z", "Y", "X"),
                        help="tomogram shape in voxels (default: the reconstruction header)")
    export.add_argument("--binning", type=_positive, metavar="B",
                        help="tilt-series pixels per voxel (default: from "
                             "acquisition_parameters.json, else 1)")
    export.add_argument("--amplitude-contrast", type=_positive, default=0.07, metavar="F",
                        help="rlnAmplitudeContrast of the optics group (default 0.07)")
    export.set_defaults(run=run_export_star)

    copick = commands.add_parser(
        "export-copick", help="write tomobench tomograms, ground truth and picks as a copick "
                              "project",
        description="Write the tomograms of a tomobench run (results/<name>) as a copick "
                    "project: pickable objects from the SHREC class table, reconstructions as "
                    "OME-Zarr multiscale tomograms, the ground truth (user ground-truth) and "
                    "every method's picks (user = method name) as copick points with "
                    "orientations where known, class and occupancy masks as segmentations. "
                    "Needs the copick library (pip install 'tomobench[formats]').")
    copick.add_argument("--results", required=True, type=Path, metavar="DIR",
                        help="a tomobench run folder (results/<name>, with data/ and picks/)")
    copick.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="project folder to write: copick_config.json and overlay/ "
                             "(replaced if it exists)")
    copick.add_argument("--tomograms", nargs="+", metavar="NAME",
                        help="tomogram folders to export (default: all of data/)")
    copick.set_defaults(run=run_export_copick)

    portal = commands.add_parser(
        "export-portal", help="write picks or a ground truth as CryoET Data Portal ndjson",
        description="One '<class>_point.ndjson' or '<class>_orientedpoint.ndjson' per class "
                    "(locations in voxels of the tomogram, x fastest; oriented points carry "
                    "xyz_rotation_matrix from the SHREC angles). Every line is schema-checked.")
    portal.add_argument("--picks", required=True, type=Path, metavar="FILE",
                        help="submission text file, or a particle_locations.txt")
    portal.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="output folder (created)")
    portal.add_argument("--ground-truth", action="store_true",
                        help="the file is a particle_locations.txt (default: when so named)")
    portal.set_defaults(run=run_export_portal)


_EXPORT_STAR_HELP = """\
Convert a submission ('<class> <x> <y> <z> [score]') or a ground truth (particle_locations.txt,
'<class> <x> <y> <z> <a1> <a2> <a3>') into a RELION particle STAR file:

  RELION 5  rlnCenteredCoordinate{X,Y,Z}Angst = (x - n/2) * voxel size (Å from the centre)
  RELION 4  rlnCoordinate{X,Y,Z} = x * binning (unbinned tilt-series pixels)

plus rlnTomoName, rlnClassNumber (SHREC class id), rlnTomoParticleName and rlnOpticsGroup; a
ground truth adds rlnAngleRot/Tilt/Psi (ZYZ, converted from the SHREC angles; nan for vesicles
and fiducials), picks with scores add rlnAutopickFigureOfMerit. The optics block carries
voltage, Cs, amplitude contrast and rlnTomoTiltSeriesPixelSize. Coordinates in the input are
0-based voxels of the reconstruction, x fastest.
"""


def run_export_star(args) -> None:
    from dataclasses import replace

    from tomobench.formats.relion import (
        TomogramGeometry,
        geometry_from_folder,
        write_particle_star,
    )
    from tomobench.particles import read_particle_locations, read_picks

    truth = args.ground_truth or args.picks.name == TRUTH_LIST_NAME
    particles = read_particle_locations(args.picks) if truth else read_picks(args.picks)
    name = args.tomogram_name or (args.data.name if args.data else
                                  args.picks.resolve().parent.name if truth else args.picks.stem)
    if args.data:
        geometry = geometry_from_folder(args.data, name=name,
                                        amplitude_contrast=args.amplitude_contrast)
    elif args.volume_shape and args.voxel_size_nm:
        geometry = TomogramGeometry(name=name, shape_zyx=tuple(args.volume_shape),
                                    voxel_size_nm=args.voxel_size_nm,
                                    amplitude_contrast=args.amplitude_contrast)
    else:
        raise InputError("give --data (the tomogram folder) or both --voxel-size-nm and "
                         "--volume-shape")
    overrides = {"voxel_size_nm": args.voxel_size_nm, "binning": args.binning,
                 "shape_zyx": tuple(args.volume_shape) if args.volume_shape else None}
    geometry = replace(geometry, **{k: v for k, v in overrides.items() if v is not None})
    write_particle_star(args.out, particles, geometry, relion_version=args.relion)
    print(f"wrote {len(particles)} {'ground-truth particles' if truth else 'picks'} of "
          f"{name} to {args.out} (RELION {args.relion})")


def run_export_copick(args) -> None:
    from tomobench.formats.copick_project import export_run_folder

    config = export_run_folder(args.results, args.out, tomograms=args.tomograms)
    print(f"wrote copick project {config}")


def run_export_portal(args) -> None:
    from tomobench.formats.portal import write_annotations
    from tomobench.particles import read_particle_locations, read_picks

    truth = args.ground_truth or args.picks.name == TRUTH_LIST_NAME
    particles = read_particle_locations(args.picks) if truth else read_picks(args.picks)
    for path in write_annotations(args.out, particles):
        print(f"wrote {path}")


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
