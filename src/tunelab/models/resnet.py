"""ResNet-18 for small images: a 3x3 stem, no early max pooling, a width knob."""

from torch import nn

from tunelab.errors import ConfigError

STAGES = (1, 2, 4, 8)  # each stage's channels, in multiples of `width`
BLOCKS_PER_STAGE = 2  # ResNet-18: four stages of two basic blocks


class ResNet18(nn.Module):
    """torchvision's BasicBlocks in ResNet-18's layout: stages of width, 2x, 4x and 8x
    channels (width=64 is the standard network, 11M parameters). 32x32 inputs keep their
    resolution through the stem, as in the CIFAR variant of the paper.

    Assembled here rather than with torchvision.models.resnet18, whose stage widths are fixed
    at 64..512 (its width_per_group only applies to bottleneck blocks)."""

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        num_outputs: int,
        width: int = 64,
        dropout: float = 0.0,
    ) -> None:
        from torchvision.models.resnet import BasicBlock

        super().__init__()
        if len(input_shape) != 3:
            raise ConfigError(
                f"model=resnet18 needs images, not input of shape {input_shape}: use model=mlp"
            )
        if width < 1:
            raise ConfigError(f"model.width={width}: must be >= 1 (64 is the standard ResNet-18)")
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], width, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        channels = width
        for stage, multiple in enumerate(STAGES):
            out, stride = width * multiple, 1 if stage == 0 else 2
            shortcut = None
            if stride != 1 or channels != out:  # the identity does not fit: project it
                shortcut = nn.Sequential(
                    nn.Conv2d(channels, out, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(out),
                )
            blocks.append(BasicBlock(channels, out, stride, shortcut))
            blocks += [BasicBlock(out, out) for _ in range(BLOCKS_PER_STAGE - 1)]
            channels = out
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(channels, num_outputs),
        )
        for module in self.modules():  # torchvision's initialisation of its ResNets
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.head(self.features(self.stem(x)))
