"""The gates: one module for each kind of untrusted input that crosses into something
that acts on it, and no way around them (tests/gates/ proves that by scanning the code).

    byoc          a `path` that names code (train, validation, inference and automl
                  configs, smoke's stand-ins): resolved to a file, allowed only in the
                  MMAR's custom/, a --pythonpath folder, or the component table
    names         a name or string that goes into an output language (Python source, a
                  MONAI bundle's JSON, HTML): checked against that language
    deserializers config args that would weaken a deserializer (weights_only=False,
                  pickle_module, allow_pickle): refused wherever they are written
    safe_io       every read and write of an output, run or checkpoint folder:
                  regular files only, no link followed, bounded sizes
    show          every piece of config text printed to a terminal: control
                  characters shown escaped
"""
