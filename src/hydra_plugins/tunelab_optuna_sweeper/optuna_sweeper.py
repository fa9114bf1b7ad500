"""The Sweeper class Hydra finds; it hands the work to _impl, imported only when a sweep starts."""

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class TunelabOptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra_plugins.tunelab_optuna_sweeper._impl import OptunaSearch

        self.search = OptunaSearch(
            hydra_context=hydra_context, task_function=task_function, config=config, **self.settings
        )

    def sweep(self, arguments: list[str]) -> Any:
        return self.search.run(arguments)
