"""AutoML runtime: controllers, scheduler, executors, handlers and tracking.

It runs the scripts that `claragen.transpiler` generates as an AutoML search; see DESIGN.md.
The runtime lands with the `claragen automl` command; the compiler does not depend on it.
"""
