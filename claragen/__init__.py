"""claragen: compile NVIDIA Clara Train configurations into standalone PyTorch + MONAI scripts."""

__version__ = "0.1.0"
