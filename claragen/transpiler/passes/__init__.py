"""Compiler passes, one module each; their order lives in `claragen.transpiler.pipeline`."""
