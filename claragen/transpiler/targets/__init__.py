"""Code generation targets: `plain` (an explicit PyTorch loop)."""
