"""Method kinds (config ``methods.<M>.kind``): the family of rules that runs each one and the
name of the paper method it re-implements.

This is the one list of kinds; the workflow derives its rule selection (``methods.smk``), the
benchmark rules of Table 7 (``paper_functions.smk``) and the whole-config checks from it. It
imports nothing heavy, so the Snakefile reads it without loading torch. The learning kinds are
the names the learning registry (``tomobench.methods.learning``) registers, and the schema's
``kind`` enums list these kinds: ``tests/test_config.py`` fails when either diverges. A new
learning kind is its module under ``methods/learning/`` plus one line here and its schema keys.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Families of kinds; each has its own rules and config section in the schema ``$defs``.
FAMILIES = ("dog", "template_matching", "learning", "command", "submission")
#: Keys every method entry may carry that are no parameter of its kind (each family's parser
#: accepts and ignores them; the schema lists them in every ``$defs`` entry).
ENTRY_KEYS = ("kind", "paper_name")


@dataclass(frozen=True)
class MethodKind:
    """One kind: ``family`` (one of :data:`FAMILIES`) and the paper's method name (None when
    the paper has no such method)."""

    name: str
    family: str
    paper_name: str | None = None


METHOD_KINDS: dict[str, MethodKind] = {kind.name: kind for kind in (
    MethodKind("dog", "dog"),
    MethodKind("tm", "template_matching", "TM"),
    MethodKind("tm_f", "template_matching", "TM-F"),
    MethodKind("deepfinder", "learning", "DeepFinder"),
    MethodKind("mc_ds_net", "learning", "MC DS Net"),
    MethodKind("urfinder", "learning", "URFinder"),
    MethodKind("u_clstm", "learning", "U-CLSTM"),
    MethodKind("yopo", "learning", "YOPO"),
    MethodKind("cfn", "learning", "CFN"),
    # Pickers from outside the package: a shell command per job (train_command ->
    # pick_command -> check_command_picks), or picks made elsewhere (pick_submission).
    MethodKind("command", "command"),
    MethodKind("submission", "submission"),
)}


def kinds_of(family: str) -> tuple[str, ...]:
    """The kinds of one family, in :data:`METHOD_KINDS` order."""
    if family not in FAMILIES:
        raise ValueError(f"unknown method family {family!r}; known: {FAMILIES}")
    return tuple(name for name, kind in METHOD_KINDS.items() if kind.family == family)


#: Kinds whose rules train a network (``train_learning`` -> ``pick_learning``).
LEARNING_KINDS = kinds_of("learning")
#: Kinds sharing the template-matching search (``match_templates`` -> ``pick_template_matching``).
TEMPLATE_MATCHING_KINDS = kinds_of("template_matching")
#: Kinds whose picks come from outside the package (validated before they are scored).
EXTERNAL_KINDS = kinds_of("command") + kinds_of("submission")
#: Our kinds that re-implement a paper method, with the paper's name.
PAPER_NAME_BY_KIND = {name: kind.paper_name for name, kind in METHOD_KINDS.items()
                      if kind.paper_name}
