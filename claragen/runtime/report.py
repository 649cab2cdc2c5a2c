"""`claragen report automl/<run_id>`: one self-contained HTML page of a search.

    the search: its config, controller, pruner, jobs (ended, pruned, failed)
    the search space: each parameter's range or choices; a parameter that took a single
        value is listed, not plotted
    the leaderboard: jobs by score (ties said to be ties), then pruned ones, then failed
        ones with their reason; each row links its log.txt, train.py and TensorBoard folder
    plots (optuna.visualization.matplotlib, from the study in optuna.log): optimization
        history with the best so far, learning curves of every job (pruned ones too),
        parallel coordinates, parameter importances (3 jobs ended or more), slices

The leaderboard comes from the journal, the plots from the study; a run without an
optuna.log (made before there was one) gets the leaderboard and a score-per-job plot. A
journal that is not a claragen journal, or a page that cannot be written (or is a link),
is a one-line ValueError.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

from claragen.gates import names, safe_io
from claragen.runtime.journal import Journal, JournalState
from claragen.runtime.live import clip, shown_values
from claragen.runtime.params import named as named_values
from claragen.runtime.params import text as param_text
from claragen.runtime.ranking import MAXIMIZE, MINIMIZE, ranked
from claragen.runtime.rundir import SearchError

STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:70em} td,th{padding:2px 8px;"
    "text-align:left;border-bottom:1px solid #ddd;vertical-align:top} .failed{color:#a00}"
    " .pruned{color:#777} figure{margin:1em 0} figcaption{font-weight:bold}"
)
# readable axes (no "1e-6+3.251e-2" offsets); text in the SVG as text, not paths
# Labels are config text (searched values, job names): shown as they are, never read as
# matplotlib's math ("$...$" would be parsed, and can fail the whole report).
RC = {
    "axes.formatter.useoffset": False,
    "svg.fonttype": "none",
    "text.parse_math": False,
}


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def load_study(run_dir: Path):
    """The search's study (None: the run has no optuna.log)."""
    path = run_dir / "optuna.log"
    if not safe_io.is_own_file(path):
        return None
    safe_io.check_regular(path, safe_io.LIMITS["study"])
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(path)))
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    return optuna.load_study(study_name=names[0], storage=storage) if names else None


def space_rows(values: dict[str, dict]) -> tuple[list[tuple[str, str]], list[str]]:
    """(parameter, what it took) for the summary; the parameters that varied."""
    seen: dict[str, list[str]] = {}
    for job_values in values.values():
        for key, value in named_values(job_values).items():  # as the study names them
            label = param_text(value)
            if label not in seen.setdefault(key, []):
                seen[key].append(label)
    rows, varied = [], []
    for key, labels in seen.items():
        numbers = [json.loads(x) for x in labels if _is_number(x)]
        if len(labels) == 1:
            rows.append((key, f"{labels[0]} (a single value: not plotted)"))
            continue
        varied.append(key)
        if len(numbers) == len(labels):
            rows.append(
                (key, f"{len(labels)} values from {min(numbers):g} to {max(numbers):g}")
            )
        else:
            rows.append((key, f"{len(labels)} choices: " + ", ".join(labels)))
    return rows, varied


def _is_number(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)


def optuna_plots(study: Any, varied: list[str]) -> list[tuple[str, str]]:
    """The study's plots, each (title, svg); a plot Optuna cannot draw is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as vis

    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    params = [p for p in varied if any(p in t.params for t in complete)]
    wanted: list[tuple[str, Any]] = [
        ("Optimization history, with the best score so far (pruned jobs: x at their "
         "last value)",
         lambda: _mark_pruned(vis.plot_optimization_history(study, target_name="score"),
                              study)),
        ("Learning curves: the key metric of every job at each epoch (pruned jobs stop early)",
         lambda: vis.plot_intermediate_values(study)),
    ]  # fmt: skip
    if params and len(complete) >= 2:
        wanted.append(("Parallel coordinates of the searched values and the score",
                       lambda: vis.plot_parallel_coordinate(study, params=params,
                                                            target_name="score")))  # fmt: skip
    if params and len(complete) >= 3:
        wanted.append(("Parameter importances (fANOVA)",
                       lambda: vis.plot_param_importances(study, params=params)))  # fmt: skip
    if params and complete:
        wanted.append(("Score against each searched value (pruned jobs: x at their last "
                       "value)",
                       lambda: _mark_pruned(vis.plot_slice(study, params=params,
                                                           target_name="score"),
                                            study, params)))  # fmt: skip
    figures = []
    with warnings.catch_warnings(), plt.rc_context(RC):
        warnings.simplefilter("ignore")  # Optuna's "experimental" warnings
        for title, draw in wanted:
            try:
                axes = draw()
                first = axes.flat[0] if hasattr(axes, "flat") else axes
                _name_trials(first, study)
                figures.append((title, _svg(first.figure)))
            except (
                Exception
            ):  # a plot that cannot be drawn (Optuna, matplotlib) is left out
                pass
            plt.close("all")
    return figures


def _mark_pruned(axes: Any, study: Any, params: list[str] | None = None) -> Any:
    """Optuna plots complete trials only: a pruned job is drawn too, as an x at its last
    epoch's key metric (against its trial number, or each searched value)."""
    import optuna

    pruned = [t for t in study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
              if t.intermediate_values]  # fmt: skip
    if not pruned:
        return axes
    last = [t.intermediate_values[max(t.intermediate_values)] for t in pruned]
    flat = list(axes.flat) if hasattr(axes, "flat") else [axes]
    for i, ax in enumerate(flat):
        if params is None:
            xs, ys = [t.number for t in pruned], last
        else:
            if i >= len(params):
                break
            pairs = [(t.params[params[i]], v) for t, v in zip(pruned, last, strict=True)
                     if isinstance(t.params.get(params[i]), int | float)]  # fmt: skip
            xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
        ax.scatter(xs, ys, marker="x", color="tab:red", label="pruned: last value")
        ax.legend()
    return axes


def _name_trials(ax: Any, study: Any) -> None:
    """A legend's "Trial3" -> the job's folder, W1_2_J4."""
    legend = ax.get_legend()
    if legend is None:
        return
    names = {f"Trial{t.number}": t.user_attrs.get("name") for t in study.trials}
    for text in legend.get_texts():
        text.set_text(names.get(text.get_text()) or text.get_text())


def history_plot(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Without a study: the score of each job in the order the jobs ended."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [r for r in rows if r.get("score") is not None]
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(range(1, len(scored) + 1), [r["score"] for r in scored], "o-")
        ax.set_xlabel("job, in the order the jobs ended")
        ax.set_ylabel("score")
        svg = _svg(fig)
        plt.close(fig)
    return [("Score per job, in time order", svg)]


def links(run_dir: Path, name: str) -> str:
    """Links to a job's log.txt, train.py and TensorBoard folder, where they are."""
    out = []
    folder = run_dir / name
    for label, rel in (("log", "log.txt"), ("script", "train.py")):
        if (folder / rel).is_file():
            out.append(f"<a href='{quote(name)}/{quote(rel)}'>{label}</a>")
    if any((folder / "models").glob("events.out.tfevents*")):
        out.append(f"<a href='{quote(name)}/models/' title='tensorboard --logdir "
                   f"{names.html(str(folder / 'models'))}'>TensorBoard</a>")  # fmt: skip
    return " ".join(out)


def leaderboard(run_dir: Path, rows: list[dict], values: dict[str, dict],
                direction: str = MAXIMIZE) -> list[str]:  # fmt: skip
    esc = names.html
    ok, pruned, failed = ranked(rows, lambda r: r["status"], lambda r: r.get("score"),
                                direction)  # fmt: skip
    counts: dict[float, int] = {}
    for r in ok:
        counts[round(r["score"], 4)] = counts.get(round(r["score"], 4), 0) + 1
    lines = ["<h2>Leaderboard</h2>"]
    if direction == MINIMIZE:
        lines.append("<p>The score is the mean training loss (the config has no key "
                     "metric): lower is better.</p>")  # fmt: skip
    ties = {s: n for s, n in counts.items() if n > 1}
    for score, n in sorted(ties.items(), reverse=True):
        lines.append(f"<p>{n} jobs tie at score {score:.4f}: the search cannot tell "
                     "them apart.</p>")  # fmt: skip
    lines.append("<table><tr><th>rank</th><th>job</th><th>score</th><th>status</th>"
                 "<th>elapsed</th><th>values</th><th>files</th></tr>")  # fmt: skip
    for i, r in enumerate(ok + pruned + failed, start=1):
        score = "" if r.get("score") is None else f"{r['score']:.4f}"
        shown = shown_values(values.get(r["job"], {}))
        status, cls = r["status"], ""
        if r in ok:
            status = "ok (tie)" if ties.get(round(r["score"], 4)) else "ok"
        else:
            sep = " " if status == "pruned" else ": "
            status = f"{status}{sep}{clip(r.get('reason', ''), 200)}"
            cls = f" class='{'pruned' if r['status'] == 'pruned' else 'failed'}'"
        rank = str(i) if r in ok else "-"
        lines.append(
            f"<tr{cls}><td>{rank}</td><td>{esc(r['name'])}</td><td>{score}</td>"
            f"<td>{esc(status)}</td><td>{r.get('elapsed', 0):.1f} s</td>"
            f"<td>{esc(shown)}</td><td>{links(run_dir, r['name'])}</td></tr>"
        )
    lines.append("</table>")
    return lines


def retrained(run_dir: Path, state: JournalState, values: dict[str, dict]) -> list[str]:
    """The --retrain-top section: each retrain beside the search score of its job."""
    if not state.retrained:
        return []
    esc = names.html
    lines = ["<h2>Retrained</h2><p>The best jobs of the search, run again with the full "
             "settings (--retrain-args).</p><table><tr><th>retrain</th><th>job</th>"
             "<th>search score</th><th>score</th><th>status</th><th>elapsed</th>"
             "<th>files</th></tr>"]  # fmt: skip
    for name, r in state.retrained.items():
        search_end = state.ended.get(r["job"], {})
        before = search_end.get("score")
        score = "" if r.get("score") is None else f"{r['score']:.4f}"
        status = (
            r["status"]
            if r["status"] == "ok"
            else f"{r['status']}: {clip(r.get('reason', ''), 200)}"
        )
        lines.append(
            f"<tr><td>{esc(name)}</td><td>{esc(search_end.get('name', r['job']))}</td>"
            f"<td>{'' if before is None else f'{before:.4f}'}</td><td>{score}</td>"
            f"<td>{esc(status)}</td><td>{r.get('elapsed', 0):.1f} s</td>"
            f"<td>{links(run_dir, name)}</td></tr>"
        )
    lines.append("</table>")
    return lines


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    journal = Journal(run_dir / "journal.jsonl")
    try:
        records = journal.read()
    except SearchError as exc:
        raise ValueError(str(exc)) from None
    if not records:
        raise ValueError(f"{run_dir} holds no search journal (journal.jsonl)")
    state = JournalState.of(records)
    values = {r["job"]: r["values"] for r in state.recommended}
    rows = [state.ended[job] for job in state.end_order]
    header = state.header or {}
    esc = names.html
    run_id = esc(str(header.get("run_id", run_dir.name)))
    counts = {
        s: sum(1 for r in rows if r["status"] == s) for s in ("ok", "pruned", "failed")
    }
    lines = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>claragen automl {run_id}</title><style>{STYLE}</style></head><body>",
        f"<h1>Search {run_id}</h1>",
        f"<p>config {esc(str(header.get('config', '?')))}; controller "
        f"{esc(str(header.get('controller', '?')))}, seed {esc(str(header.get('seed', '?')))}, "
        f"pruner {esc(str(header.get('pruner', 'none')))}; {len(rows)} jobs ended "
        f"({counts['ok']} ok, {counts['pruned']} pruned, {counts['failed']} failed), "
        f"{'finished' if state.done else 'not finished'}.</p>",
    ]
    summary, varied = space_rows({r["job"]: values.get(r["job"], {}) for r in rows})
    lines.append(
        "<h2>Search space</h2><table><tr><th>parameter</th><th>values</th></tr>"
    )
    lines += [f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in summary]
    lines.append("</table>")
    lines += leaderboard(run_dir, rows, values, str(header.get("direction", MAXIMIZE)))
    lines += retrained(run_dir, state, values)
    try:
        study = load_study(run_dir)
    except OSError as exc:
        raise ValueError(
            f"cannot read {run_dir / 'optuna.log'}: {safe_io.reason(exc)}"
        ) from None
    except (
        Exception
    ) as exc:  # Optuna's replay of a damaged journal: say so, not a trace
        raise ValueError(
            f"cannot read the study {run_dir / 'optuna.log'}: {type(exc).__name__}: {exc}"
        ) from None
    figures = optuna_plots(study, varied) if study is not None else history_plot(rows)
    for title, svg in figures:
        lines.append(f"<figure><figcaption>{esc(title)}</figcaption>{svg}</figure>")
    lines.append("</body></html>")
    out = out or run_dir / "report.html"
    try:
        safe_io.replace(out, ("\n".join(lines) + "\n").encode("utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot write {out}: {safe_io.reason(exc)}") from None
    return out
