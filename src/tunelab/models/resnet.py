"""ResNet-18 (torchvision's blocks) for small images: a 3x3 stem, no early max pooling."""

from torch import nn

from tunelab.errors import ConfigError


class ResNet18(nn.Module):
    """torchvision's resnet18 with the CIFAR-style stem (32x32 inputs keep their resolution)."""

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        num_classes: int,
        width: int = 64,
        dropout: float = 0.0,
    ) -> None:
        from torchvision.models import resnet18

        super().__init__()
        if len(input_shape) != 3:
            raise ConfigError(
                f"model=resnet18 needs images, not input of shape {input_shape}: use model=mlp"
            )
        net = resnet18(num_classes=num_classes, width_per_group=width)
        net.conv1 = nn.Conv2d(input_shape[0], 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
        net.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(net.fc.in_features, num_classes))
        self.net = net

    def forward(self, x):
        return self.net(x)
