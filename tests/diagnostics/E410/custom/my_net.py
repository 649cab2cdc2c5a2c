import torch


class MyNet(torch.nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
