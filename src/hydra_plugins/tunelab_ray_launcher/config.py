"""`hydra/launcher=ray`: the settings, registered in Hydra's config store."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.tunelab_ray_launcher.ray_launcher.RayLauncher"
    # null: a Ray instance on this machine, started for the sweep; "host:6379" or
    # "ray://host:10001": a running cluster (the project installed on its nodes).
    address: str | None = None
    # What each trial asks of the cluster: a trial waits until a node has them free.
    num_cpus: float = 1
    num_gpus: float = 0
    # More ray.init keyword arguments, e.g. {num_cpus: 4} for the local instance.
    init: dict[str, Any] = field(default_factory=dict)


ConfigStore.instance().store(
    group="hydra/launcher", name="ray", node=RayLauncherConf, provider="tunelab_ray_launcher"
)
