"""What Clara AutoML's controllers and handlers see (SPEC 6), kept under Clara's names.

A bring-your-own handler written for Clara needs only its imports changed:

    from automl.defs import Context, ContextKey          # Clara
    from claragen.runtime.context import Context, ContextKey   # claragen

`Context` carries the properties of the run (`get_prop`/`set_prop`) and the request to stop
(`stop_work`/`stop_work_asked`); `ContextKey` names the properties the engine sets.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from claragen.transpiler.space import SearchParam, SearchSpace


class ContextKey:
    """The context properties Clara's handlers read (the values are Clara's raw names)."""

    JOB_NAME = "_jobName"  # "W1_2_J3"
    CONCRETE_SEARCH_VALUE = "_concreteSearchValue"  # {"<param id>": [value, ...]}
    SCORE = "_score"  # the job's score, None when it failed
    RECOMMENDATIONS = "_recommendations"  # list[Recommendation]
    # claragen's own
    SEARCH_VALUES = "_searchValues"  # {"<param id>": value}: an enum's choice, a float
    JOB_ID = "_jobId"  # "J3"
    JOB_DIR = "_jobDir"  # Path of the job's folder
    JOB_STATUS = "_jobStatus"  # "ok" | "pruned" | "failed"
    JOB_ELAPSED = "_jobElapsed"  # the job's seconds, once it ended
    JOB_REASON = "_jobReason"  # why it failed ("" when it did not)
    JOB_RESULT = "_jobResult"  # the job's result.json, or None
    RUN_DIR = "_runDir"  # Path of automl/<run_id>
    RUN_ID = "_runId"
    DIRECTION = "_scoreDirection"  # "maximize" | "minimize" (claragen.runtime.ranking)
    SEARCH_SPACE = "_searchSpace"  # RuntimeSpace
    DEFAULT_VALUES = "_defaultValues"  # {"<param id>": the config's own value or None}
    JOB_ARGS = "_jobArgs"  # the arguments the job's script runs with (--job-args ...)


class Context:
    def __init__(self, **props: Any) -> None:
        self._props: dict[str, Any] = dict(props)
        self._stop: str | None = None
        self.stopped_by: str | None = None  # the class that asked, module.Class
        self._lock = threading.Lock()

    def get_prop(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._props.get(key, default)

    def set_prop(self, key: str, value: Any) -> None:
        with self._lock:
            self._props[key] = value

    def stop_work(self, who: object, msg: str = "") -> None:
        """Ask the engine to stop: running jobs finish, no new job starts."""
        with self._lock:
            if self._stop is None:
                self.stopped_by = f"{type(who).__module__}.{type(who).__qualname__}"
                self._stop = (
                    f"{type(who).__name__}: {msg}" if msg else type(who).__name__
                )

    def stop_work_asked(self) -> bool:
        return self._stop is not None

    @property
    def stop_reason(self) -> str | None:
        return self._stop


@dataclass(frozen=True)
class FloatRange:
    min: float
    max: float


@dataclass(frozen=True)
class RuntimeSpace:
    """The search space as Clara's controllers saw it: `targets` keyed by a parameter
    locator holding `.enum` or `.float`; a float's range has `.min`/`.max`, an enum is a
    list of choices picked by index."""

    space: SearchSpace

    @property
    def params(self) -> tuple[SearchParam, ...]:
        return tuple(self.space.params)

    @property
    def targets(self) -> dict[str, Any]:
        return {
            f"{p.id}.{p.type}": (
                FloatRange(p.low, p.high) if p.type == "float" else list(p.choices)
            )
            for p in self.space.params
        }

    def param(self, key: str) -> SearchParam:
        """A parameter by id, or by its `targets` key."""
        for p in self.space.params:
            if key in (p.id, f"{p.id}.{p.type}"):
                return p
        raise KeyError(key)


@dataclass(frozen=True)
class SearchResult:
    space: RuntimeSpace
    values: dict[str, Any]  # parameter id -> enum choice (per-arg list) or float


@dataclass(frozen=True)
class Recommendation:
    rec_id: int
    result: SearchResult

    @property
    def values(self) -> dict[str, Any]:
        return self.result.values


@dataclass(frozen=True)
class Outcome:
    recommendation_id: int
    score: float | None  # None: the job failed
    recommendation: Recommendation | None = None
    job_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = ""  # "ok" | "pruned" (score: the best it reached) | "failed"


def concrete_search_value(values: dict[str, Any]) -> dict[str, list[Any]]:
    """Clara's CONCRETE_SEARCH_VALUE: every value as a list (an enum choice already is)."""
    return {k: v if isinstance(v, list) else [v] for k, v in values.items()}
