"""Any torchvision classification architecture by name (model=torchvision model.arch=resnet18),
sized from the data: its first convolution takes the data's channels, its last linear layer
gives one output per class (or target). Built without weights: torchvision's published weights
come through init_from=torchvision:IMAGENET1K_V1 (tunelab.training.initial_weights), so that
reading a trained checkpoint back never downloads anything."""

from torch import nn

from tunelab.errors import ConfigError


class TorchvisionNet(nn.Module):
    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_outputs: int,
        arch: str = "resnet18",
        dropout: float = 0.0,
    ) -> None:
        from torchvision import models
        from torchvision.models import get_model, list_models

        super().__init__()
        if len(input_shape) != 3:
            raise ConfigError(
                f"model=torchvision needs images, not input of shape {input_shape}: use model=mlp"
            )
        if arch not in list_models(module=models):
            raise ConfigError(
                f"model.arch={arch}: not a torchvision classification model (resnet18, "
                "mobilenet_v3_small, efficientnet_b0, ... torchvision.models.list_models())"
            )
        self.body = get_model(arch, weights=None)
        names = dict(self.body.named_modules())
        first = next(n for n, m in names.items() if isinstance(m, nn.Conv2d))
        last = [n for n, m in names.items() if isinstance(m, nn.Linear)][-1]
        conv: nn.Conv2d = names[first]
        if conv.in_channels != input_shape[0]:
            replace(
                self.body,
                first,
                nn.Conv2d(
                    input_shape[0],
                    conv.out_channels,
                    conv.kernel_size,  # type: ignore[arg-type]
                    conv.stride,  # type: ignore[arg-type]
                    conv.padding,  # type: ignore[arg-type]
                    bias=conv.bias is not None,
                ),
            )
        head: nn.Linear = names[last]
        replace(self.body, last, nn.Linear(head.in_features, num_outputs))
        self.dropout = nn.Dropout(dropout)
        # The dropout before the new head: a hook rather than a wrapper keeps the head's name
        # (fc.weight, classifier.3.weight) as torchvision's, for the weights to match.
        self.body.get_submodule(last).register_forward_pre_hook(
            lambda _, args: (self.dropout(args[0]),)
        )

    def forward(self, x):
        return self.body(x)


def replace(root: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, module)
