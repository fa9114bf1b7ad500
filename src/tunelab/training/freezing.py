"""Parts of the network that do not train (freeze.modules), until an epoch (freeze.until_epoch)
after which they train at a fraction of the learning rate, in a parameter group of their own
(logged as lr/<modules>).

Built on Lightning's BaseFinetuning (freezing before the optimizer is made, adding the group
when unfrozen); its BackboneFinetuning needs the network under `pl_module.backbone` and a
learning rate divided rather than a factor, so it did not serve as it is. The new group is not
seen by a learning-rate schedule made before it: it keeps the rate it was given.
"""

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import BaseFinetuning
from torch import nn

from tunelab.errors import ConfigError


class Freeze(BaseFinetuning):
    def __init__(self, modules: list[str], until_epoch: int | None, lr_factor: float) -> None:
        super().__init__()
        self.names, self.until_epoch, self.lr_factor = list(modules), until_epoch, lr_factor

    def frozen(self, pl_module: L.LightningModule) -> list[nn.Module]:
        network: nn.Module = pl_module.network  # type: ignore[assignment]
        return [network.get_submodule(name) for name in self.names]

    def freeze_before_training(self, pl_module: L.LightningModule) -> None:
        self.freeze(self.frozen(pl_module), train_bn=False)  # batch-norm statistics too

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # Frozen means frozen in behaviour too: BaseFinetuning stops the batch norms' running
        # statistics, but in training mode they would normalise with each batch's own, not
        # with the statistics the weights were trained with. Lightning puts the model back in
        # training mode after every validation, hence each batch.
        if self.until_epoch is None or trainer.current_epoch < self.until_epoch:
            for module in self.frozen(pl_module):
                module.eval()

    def finetune_function(
        self, pl_module: L.LightningModule, current_epoch: int, optimizer: Any
    ) -> None:
        if current_epoch != self.until_epoch:
            return
        lr = optimizer.param_groups[0]["lr"] * self.lr_factor
        self.unfreeze_and_add_param_group(self.frozen(pl_module), optimizer, lr=lr)
        optimizer.param_groups[-1]["name"] = ",".join(self.names)  # lr/<modules>


def build_freeze(cfg_freeze: Any, network: nn.Module) -> list[Freeze]:
    """conf's freeze node as a callback (none when it names no module); a name that is not a
    module of the network stops here, before training, listing the top-level ones."""
    names = list((cfg_freeze or {}).get("modules") or [])
    if not names:
        return []
    modules = dict(network.named_modules())
    if unknown := [n for n in names if n not in modules]:
        top = ", ".join(name for name, _ in network.named_children())
        raise ConfigError(
            f"freeze.modules: {', '.join(unknown)} is not a module of {type(network).__name__}; "
            f"its modules are {top} (and their parts, e.g. {next(iter(modules.keys() - {''}), '')})"
        )
    until = cfg_freeze.get("until_epoch")
    return [Freeze(names, until, float(cfg_freeze.get("lr_factor", 1.0)))]
