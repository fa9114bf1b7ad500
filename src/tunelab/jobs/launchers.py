"""The launcher a command line names (hydra/launcher=NAME), checked before Hydra starts: its
plugin installed, a Ray cluster's address answering. tunelab's Ray launcher plugin
(hydra_plugins.tunelab_ray_launcher) imports its connection timeout from here: the plugin
depends on the package, never the other way round."""

import socket

CONNECT_SECONDS = 10  # a Ray address that does not answer in this time stops the sweep


def ray_answers(address: str) -> bool:
    """Whether something accepts connections at a Ray address (host:port, ray://host:port)."""
    if address == "auto":  # Ray finds the cluster this machine belongs to
        return True
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS):
            return True
    except (OSError, ValueError):
        return False


# Hydra launchers from other packages: the plugin module each needs, and tunelab's extra for it.
LAUNCHER_PLUGINS = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "the project itself"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "launchers"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "launchers"),
    "ray": ("ray", "ray"),  # tunelab's own plugin (hydra_plugins.tunelab_ray_launcher) needs Ray
}


def launcher_error(args: list[str]) -> str | None:
    """`hydra/launcher=NAME` on the command line whose plugin is not installed: which extra to
    install (Hydra would only say the choice does not exist); a Ray address that does not
    answer. Before Hydra starts, so no sweep run is opened."""
    import importlib.util

    from tunelab.cli.overrides import override_key, override_value

    settings = {override_key(a): override_value(a) for a in args if "=" in a}
    launcher = settings.get("hydra/launcher")
    module, extra = LAUNCHER_PLUGINS.get(launcher or "", (None, ""))
    if module and importlib.util.find_spec(module) is None:
        return (
            f"hydra/launcher={launcher} needs {module}: install the {extra} extra, "
            f"pip install -e '.[{extra}]' (make installs it)"
        )
    address = settings.get("hydra.launcher.address")
    if launcher == "ray" and address and address != "null" and not ray_answers(address):
        return (
            f"hydra.launcher.address={address}: no Ray cluster answers there within "
            f"{CONNECT_SECONDS} s: start one (ray start --head) or fix the address"
        )
    return None
