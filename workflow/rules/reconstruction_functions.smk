# Helpers of reconstruction.smk (kept apart from the rules, as the linter asks).


def _reconstruction_config():
    """The config sections the reconstruction reads."""
    return {
        key: config.get(key) or {}
        for key in ("tomograms", "scene", "reconstruction", "faithful")
    }
