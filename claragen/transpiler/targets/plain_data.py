"""The plain target's datasets and loaders: the data list a dataset loads, and under
multi_gpu each rank's share of it.

    train.dataset {"name": "CacheDataset", "data_list_file_path": "{DATASET_JSON}", ...}
    -> CacheDataset(data=load_decathlon_datalist(args.dataset_json, ...), ...)
    multi_gpu: a CacheDataset caches partition_dataset(...)[rank]; a loader of any other
    dataset draws through DistributedSampler(train_dataset, num_replicas=world_size, ...)
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable

from claragen.transpiler.diagnostics import Diagnostics
from claragen.transpiler.emit import Emitter, Imports, literal_node
from claragen.transpiler.ir import (
    Component,
    Config,
    Expr,
    Lit,
    Ref,
    Slot,
    read_variable,
)
from claragen.transpiler.targets.plain_script import Block, Distributed

# Datasets that cache their items: under multi_gpu each rank caches only its own share
# (partition_dataset); any other dataset is shared out by a DistributedSampler.
CACHED_DATASETS = frozenset({"CacheDataset", "SmartCacheDataset", "CacheNTransDataset"})


class DataLowering:
    """Datasets and loaders; a mixin of PlainLowering, whose state it reads."""

    config: Config
    diags: Diagnostics
    imports: Imports
    emitter: Emitter
    ddp: Distributed | None
    slot: Callable[[Ref], Slot | None]
    ref_name: Callable[[Ref], str]

    def dataset_block(
        self, section: str, key: str, comp: Component, target: str, comments: list[str]
    ) -> Block | None:
        path = comp.attr("data_list_file_path")
        if path is None:
            self.diags.error(
                "E405",
                comp.span,
                f"{comp.locator} has no 'data_list_file_path'",
                'add "data_list_file_path": "{DATASET_JSON}" beside \'name\'',
            )
            return None
        self.imports.add_name("monai.data", "load_decathlon_datalist")
        list_key = comp.attr("data_list_key") or Lit(comp.span, "training")
        base = comp.attr("data_file_base_dir")
        task = read_variable(self.config, "PROCESSING_TASK", "segmentation")
        datalist = (
            f"load_decathlon_datalist({self.emitter.value(path)}, "
            f"is_segmentation={task != 'classification'!r}, "
            f"data_list_key={self.emitter.value(list_key)}"
            + (f", base_dir={self.emitter.value(base)}" if base is not None else "")
            + ")"
        )
        if self.ddp is not None and comp.class_name in CACHED_DATASETS:
            # multi_gpu: rank r caches items r, r + N, ... of the list. Training shares are
            # padded to one length (every rank runs the same number of steps); validation
            # shares are not (each item is scored once).
            self.imports.add_name("monai.data", "partition_dataset")
            even = section == "train"
            datalist = (
                f"partition_dataset({datalist}, num_partitions=world_size, "
                f"even_divisible={even!r})[rank]"
            )
            comments = comments + [
                "multi_gpu: this rank caches its own share of the data list"
            ]
        data = ast.parse(datalist, mode="eval").body
        code = ast.unparse(self.emitter.construct(comp, extra=(("data", data),)))
        return Block(comments, target, code)

    def shard_loader(self, section: str, comp: Component) -> Component:
        """multi_gpu: a loader of a dataset that does not cache draws through a
        DistributedSampler, which takes over the loader's `shuffle`."""
        dataset = comp.arg("dataset")
        slot = self.slot(dataset) if isinstance(dataset, Ref) else None
        if isinstance(slot, Component) and slot.class_name in CACHED_DATASETS:
            return comp  # the dataset holds this rank's share already
        if not isinstance(dataset, Ref):
            self.diags.warning(
                "W104",
                comp.arg_span("dataset") if dataset is not None else comp.span,
                f"multi_gpu: {comp.locator}'s dataset is not a reference, so every "
                "rank loads all of it",
                'give the dataset its own key and write "dataset": "@dataset"',
            )
            return comp
        shuffle = comp.arg("shuffle")
        self.imports.add_name("monai.data", "DistributedSampler")
        call = ast.Call(
            ast.Name("DistributedSampler", ast.Load()),
            [ast.Name(self.ref_name(dataset), ast.Load())],
            [
                ast.keyword(
                    "shuffle",
                    (
                        self.emitter.node(shuffle)
                        if shuffle is not None
                        else literal_node(False)
                    ),
                ),
                ast.keyword("even_divisible", literal_node(section == "train")),
                ast.keyword("num_replicas", ast.Name("world_size", ast.Load())),
                ast.keyword("rank", ast.Name("rank", ast.Load())),
            ],
        )
        tree = ast.fix_missing_locations(ast.Expression(call))
        sampler = Expr(comp.span, ast.unparse(call), tree)
        if section == "train":
            self.ddp.train_sampler = True  # type: ignore[union-attr]
        comp = comp.with_arg("shuffle", None).with_arg("sampler", sampler)
        return dataclasses.replace(
            comp,
            notes=comp.notes
            + ("multi_gpu: the DistributedSampler gives each rank its share",),
        )
