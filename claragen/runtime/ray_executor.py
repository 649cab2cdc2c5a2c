"""Jobs as Ray tasks: `claragen automl --executor ray [--ray-address ADDR]`.

    ray.init(ADDR)            # no address: a local Ray instance, shut down at the end
    run_on_node.options(num_gpus=<the worker's GPU count>).remote(spec, script, cwd)
        on a node: the job runs as LocalExecutor runs it (its script as a subprocess),
        seeing the GPUs Ray gave the task (CUDA_VISIBLE_DEVICES)
    <- its JobResult, and its folder's files when the node does not see the run folder

The controller, the journal, the handlers and MLflow stay in `claragen automl`'s process,
so a search behaves the same with either executor. A node that sees the run folder under
the same path (this machine, or a shared filesystem) runs the job in place. Any other node
runs it in a scratch folder with `--mmar-root` set to the MMAR's path, so the MMAR and the
data must be there under the same paths; the job's folder comes back as a tar archive.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from claragen.gates import safe_io
from claragen.runtime.executor import JobResult, JobSpec, LocalExecutor
from claragen.runtime.workers import Worker


class RayUnavailable(RuntimeError):
    pass


def run_on_node(
    spec: JobSpec, script: bytes, cwd: str, in_place: bool | None = None
) -> tuple[JobResult, bytes | None]:
    """The Ray task: run one job on this node; the archive of its folder when it ran in
    a scratch folder (`in_place` None: where the run folder is visible)."""
    import ray

    gpus = tuple(str(g) for g in ray.get_gpu_ids()) if ray.is_initialized() else ()
    worker = Worker(spec.worker.index, gpus)
    local = LocalExecutor(cwd=cwd if os.path.isdir(cwd) else None)
    if in_place is None:
        in_place = _same_bytes(spec.script, script)
    if in_place:
        return local.execute(replace(spec, worker=worker)), None
    with tempfile.TemporaryDirectory(prefix="claragen-job-") as tmp:
        folder = Path(tmp) / spec.name
        folder.mkdir()
        safe_io.create(folder / spec.script.name, script)
        args = spec.args
        if spec.mmar_root is not None:
            args = ("--mmar-root", str(spec.mmar_root), *args)
        scratch = replace(spec, folder=folder, script=folder / spec.script.name,
                          worker=worker, args=args)  # fmt: skip
        result = local.execute(scratch)
        return result, pack(folder, leave_out=spec.script.name)


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return safe_io.read_bytes(path, safe_io.LIMITS["script"]) == data
    except OSError:
        return False


def pack(folder: Path, leave_out: str) -> bytes:
    """A gzipped tar of `folder`'s files (paths relative to it), without `leave_out`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.relative_to(folder).as_posix() != leave_out:
                tar.add(path, arcname=path.relative_to(folder).as_posix())
    return buffer.getvalue()


def unpack(archive: bytes, folder: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")  # no absolute paths, no links out


class RayExecutor:
    """Mirrors LocalExecutor: `execute(JobSpec) -> JobResult` (blocking, one call per
    worker thread) and `abort()`; `close()` shuts down the Ray instance it started."""

    def __init__(self, address: str | None = None, in_place: bool | None = None):
        try:
            import ray
        except ImportError:
            raise RayUnavailable(
                "--executor ray needs Ray: pip install 'claragen[ray]' "
                "(with -c constraints.txt)"
            ) from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(address=address or None, include_dashboard=False,
                     log_to_driver=False, logging_level="warning")  # fmt: skip
        self.in_place = in_place  # None: decided on each node (tests force False)
        self._task = ray.remote(max_retries=0)(run_on_node)
        self._refs: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.aborted = False

    def gpu_count(self) -> int:
        """GPUs of the whole cluster (what `--workers` may ask for)."""
        return int(self.ray.cluster_resources().get("GPU", 0))

    def execute(self, spec: JobSpec) -> JobResult:
        spec = replace(spec, folder=spec.folder.resolve(), script=spec.script.resolve())
        start = time.monotonic()
        ref = self._task.options(num_gpus=len(spec.worker.gpus), num_cpus=1).remote(
            spec,
            safe_io.read_bytes(spec.script, safe_io.LIMITS["script"]),
            os.getcwd(),
            self.in_place,
        )
        with self._lock:
            self._refs[spec.job] = ref
        try:
            result, archive = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            elapsed = time.monotonic() - start
            if self.aborted:
                return JobResult("aborted", None, "stopped by the user", elapsed)
            reason = str(exc).strip().splitlines()
            return JobResult("failed", None, f"Ray: {reason[0] if reason else exc}"[:300],
                             elapsed)  # fmt: skip
        finally:
            with self._lock:
                self._refs.pop(spec.job, None)
        if archive is not None:
            unpack(archive, spec.folder)
        if self.aborted:
            return JobResult("aborted", None, "stopped by the user", result.elapsed)
        return result

    def stop(self, spec: JobSpec, reason: str) -> None:
        """Stop one running job early (the pruner): a stop file in its folder, which the
        node's LocalExecutor turns into SIGTERM. A job running in a node's scratch folder
        does not see it, nor does the engine see its progress there to prune it."""
        from claragen.runtime.executor import STOP_FILE
        from claragen.runtime.rundir import write_file

        write_file(spec.folder / STOP_FILE, reason + "\n")

    def abort(self) -> None:
        """Stop every running job (Ctrl-C): their tasks' processes are killed."""
        self.aborted = True
        with self._lock:
            refs = list(self._refs.values())
        for ref in refs:
            self.ray.cancel(ref, force=True)

    def close(self) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
