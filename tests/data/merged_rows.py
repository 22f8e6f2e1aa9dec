"""A model whose export merges three modules into one row (conv1+bn1+act1) and whose pooled rows
its export sizes 1x1xC where the model gives C, for compare against its own export."""

from torch import nn


class Merged(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.act1 = nn.ReLU()
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(self.pool(self.act1(self.bn1(self.conv1(x)))))


def merged():
    """The Merged model."""
    return Merged()
