"""Learning-based pickers: shared training/inference infrastructure and the registered kinds.

Importing this package registers the built-in kinds (``deepfinder``, ``mc_ds_net``,
``urfinder``, ``u_clstm``, ``yopo``, ``cfn``). The workflow calls ``load_tomogram``, ``train``,
``save_checkpoint``, ``load_checkpoint`` and ``pick``.
"""

from tomobench.methods.learning import (  # noqa: F401  (registration)
    cfn,
    deepfinder,
    mc_ds_net,
    u_clstm,
    urfinder,
    yopo,
)
from tomobench.methods.learning.data import load_tomogram
from tomobench.methods.learning.registry import KINDS, get_kind
from tomobench.methods.learning.training import (
    load_checkpoint,
    pick,
    predict_maps,
    save_checkpoint,
    train,
)

__all__ = [
    "KINDS",
    "get_kind",
    "load_checkpoint",
    "load_tomogram",
    "pick",
    "predict_maps",
    "save_checkpoint",
    "train",
]
