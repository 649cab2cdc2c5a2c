"""MONAI 0.5-0.8's ProbMapProducer, which Clara 4.x ran with MaskedInferenceWSIDataset
and MONAI 1.0 replaced by one that reads MONAI 1.x's datasets, written out for the
generated scripts (claragen.transpiler.written). Checked against MONAI 0.8.1's
monai/apps/pathology/handlers/prob_map_producer.py."""

import logging
import os

import numpy as np
from ignite.engine import Events


class ClaraProbMapProducer:
    """MONAI 0.8's ProbMapProducer, which Clara 4.x ran (MONAI 1.x's reads the metadata
    of MONAI 1.x's datasets). At each iteration, each patch's prediction goes into the
    probability map of its slide, at its place on the slide's foreground mask (from
    ClaraMaskedInferenceWSIDataset); a slide's map is saved as
    `<output_dir>/<name><output_postfix>.npy` once all its patches are in."""

    def __init__(self, output_dir="./", output_postfix="", dtype=np.float64, name=None):
        if os.sep in output_postfix or "/" in output_postfix:
            raise ValueError(
                f"output_postfix {output_postfix!r} names a folder; each map is saved "
                "in output_dir, as <slide name><output_postfix>.npy"
            )
        self.logger = logging.getLogger(name)
        self._name = name
        self.output_dir = output_dir
        self.output_postfix = output_postfix
        self.dtype = dtype
        self.prob_map = {}
        self.counter = {}
        self.num_done_images = 0
        self.num_images = 0

    def attach(self, engine):
        samples = engine.data_loader.dataset.data
        self.num_images = len(samples)
        for sample in samples:
            self.prob_map[sample["name"]] = np.zeros(sample["mask_shape"], self.dtype)
            self.counter[sample["name"]] = len(sample["mask_locations"])
        if self._name is None:
            self.logger = engine.logger
        if not engine.has_event_handler(self, Events.ITERATION_COMPLETED):
            engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        if not engine.has_event_handler(self.finalize, Events.COMPLETED):
            engine.add_event_handler(Events.COMPLETED, self.finalize)

    def __call__(self, engine):
        batch, output = engine.state.batch, engine.state.output
        # MONAI 0.5, which Clara 4.0 ran, gave the batch as one dict; MONAI 1.x
        # decollates it into a dict a patch
        if isinstance(batch, dict):
            names, rows, columns = batch["name"], *batch["mask_location"]
            preds = output["pred"]
        else:
            names = [item["name"] for item in batch]
            rows, columns = zip(*[item["mask_location"] for item in batch], strict=True)
            preds = [item["pred"] for item in output]
        for name, row, column, pred in zip(names, rows, columns, preds, strict=True):
            self.prob_map[name][
                int(row), int(column)
            ] = pred.item()  # one probability a patch
            self.counter[name] -= 1
            if self.counter[name] == 0:
                self.save_prob_map(name)

    def save_prob_map(self, name):
        """Save a slide's map, which is then done with."""
        path = os.path.join(self.output_dir, name + self.output_postfix + ".npy")
        np.save(path, self.prob_map.pop(name))
        del self.counter[name]
        self.num_done_images += 1
        self.logger.info(
            f"Inference of '{name}' is done [{self.num_done_images}/{self.num_images}]!"
        )

    def finalize(self, engine):
        self.logger.info(
            f"Probability map is created for {self.num_done_images}/{self.num_images} "
            "images!"
        )
