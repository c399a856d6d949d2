"""What a training run does at each validation and at its end: score, record, keep the best generator, warn
about collapse, stop early; then export the selected and the last generator and write the final table.

Step 0 is the starting model's baseline (fine-tunes only). The final table (WORKDIR/eval.md) has bicubic, the
selected model (WORKDIR/export) and, when another step, the last one (WORKDIR/export_last), followed by lines
naming the step and metric that chose the export, the baseline, and a warning when the export is worse than it.
"""

from __future__ import annotations

import math
from typing import Any

from esrgan_jax.models.store import load_variables, save_model
from esrgan_jax.training import recorder
from esrgan_jax.training.collapse import CollapseWatch
from esrgan_jax.training.selection import (
    BEST_DIR,
    DRIFT,
    LOWER_IS_BETTER,
    Selection,
    best_record,
    candidate_score,
    format_score,
    save_best,
    val_history,
)
from esrgan_jax.training.validation import FIGURE_FILE, Validator, mean_scores

EXPORT_DIR, EXPORT_LAST_DIR = "export", "export_last"
COLLAPSE_EXIT_CODE = 4  # `python -m esrgan_jax.train` after config.train.stop_on_collapse stopped the run


class Monitor:
    """Validation-time decisions of one run.

    Args:
      run: the trainer's `Run` (workdir, model kind and hparams, `say`, `lead`).
      validator: scores generator parameters; None without a validation set.
      rec: the run's recorder.
      metric: the metric to select by, or None for the last step (`selection.resolve_select`).
    """

    def __init__(self, run: Any, validator: Validator | None, rec: recorder.Recorder, metric: str | None):
        tcfg = run.config.train
        self.run, self.validator, self.rec = run, validator, rec
        self.selection = Selection(metric, tcfg.patience)
        self.score_metric = metric or "psnr_y"  # "last" still scores (and compares with the start) on PSNR-Y
        self.drift_guard = bool(tcfg.drift_guard) and metric is not None
        self.watch, self.stop_on_collapse = CollapseWatch(tcfg.collapse_fraction), bool(tcfg.stop_on_collapse)
        self.baseline: dict[str, float] | None = None
        self.stopped: str | None = None  # "patience" or "collapse"
        self._rows: dict[int, list[dict[str, Any]]] = {}  # per-image rows of this process's validations

    def restore(self) -> None:
        """A resumed run's history and baseline, from metrics.jsonl; the best so far must be the one in best/."""
        rows = recorder.read_metrics(self.run.workdir)
        history, self.baseline = val_history(rows, self.score_metric, self.drift_guard)
        self.selection.history = history
        metric, best = self.selection.metric, self.selection.best_step
        record = best_record(self.run.workdir) or {}
        if metric is not None and best is not None and (record.get("step"), record.get("select")) != (best, metric):
            self.run.say(
                f"note: {self.run.workdir / BEST_DIR} does not hold the best {metric} in metrics.jsonl (step {best}); "
                "the best so far starts again with this run"
            )
            self.selection.history = {}
        if self.selection.should_stop:
            self.stopped = "patience"
            self.run.say(f"early stop: already stopped at step {max(history)} (config.train.patience)")

    def validate(self, step: int, params: Any, d_interval: tuple[int, float] = (0, 0.0)) -> bool:
        """Scores `params` of `step` (0: the baseline) and acts on it; True when training should stop.

        `d_interval` is (GAN steps, steps with separated logits) since the previous validation.
        """
        warnings = [self.watch.separated(step, *d_interval)]
        if self.validator is not None:
            scores, rows = self.validator.run(params, self.run.workdir / FIGURE_FILE if self.run.lead else None)
            self.rec.write(step, "val", scores)
            if self.run.lead:
                recorder.plot_curves(self.run.workdir)
            warnings.append(self.watch.flat_output(step, scores["std_ratio"]))
            if step == 0:
                self.baseline = scores
                m = self.score_metric
                self.run.say(f"baseline: the starting model scores {m} {format_score(m, scores[m])} (step 0)")
            else:
                self._record(step, scores, rows, params)
        warnings = [w for w in warnings if w]
        for line in warnings:
            self.run.say(line)
        if warnings and self.stop_on_collapse and step > 0 and self.stopped is None:  # not for the start's flaws
            self.stopped = "collapse"
            self.run.say(f"stopping at step {step}: config.train.stop_on_collapse is set")
        return self.stopped is not None

    def _record(self, step: int, scores: dict[str, float], rows: list[dict[str, Any]], params: Any) -> None:
        sel = self.selection
        improved = sel.add(step, candidate_score(scores, self.score_metric, self.baseline, self.drift_guard))
        self._rows = {s: r for s, r in self._rows.items() if s == sel.best_step}
        self._rows[step] = rows
        if improved and sel.metric is not None and self.run.lead:
            save_best(self.run.workdir, self.run.kind, self.run.hparams, params, step, sel.metric, sel.best_score)
        if sel.should_stop and self.stopped is None:
            self.stopped = "patience"
            self.run.say(
                f"early stop at step {step}: {sel.metric} has not improved for {sel.since_best} validation(s) "
                f"since step {sel.best_step} (config.train.patience={sel.patience})"
            )

    def finish(self, step: int, last: Any, start: str, ema: bool) -> dict[str, Any]:
        """Exports the selected and the last generator, writes and prints the final table; the run's result."""
        run, workdir, sel = self.run, self.run.workdir, self.selection
        if self.validator is not None and step not in self._rows:
            if step in sel.history or step == 0:  # a finished (or stopped) run started again: rows only
                self._rows[step] = self.validator.run(last)[1]
            else:
                self.validate(step, last)
        best = sel.best_step if sel.metric is not None and sel.best_step is not None else step
        params = last if best == step else load_variables(workdir / BEST_DIR)[1]["params"]
        select = sel.metric or "last"
        result: dict[str, Any] = {"start": start, "step": step, "export": str(workdir / EXPORT_DIR)}
        result.update(export_last=str(workdir / EXPORT_LAST_DIR), select=select, selected_step=best)
        result.update(stopped=self.stopped, baseline=self.baseline)
        if run.lead:
            source = {"trained_by": "esrgan_jax.train", "start": start, "ema": ema}
            save_model(workdir / EXPORT_LAST_DIR, run.kind, run.hparams, {"params": last}, {**source, "step": step})
            score = sel.history.get(best)
            chosen = {
                **source,
                "step": best,
                "select": select,
                "score": None if score is None or math.isnan(score) else score,
            }
            save_model(workdir / EXPORT_DIR, run.kind, run.hparams, {"params": params}, chosen)
            print(f"exported the {'EMA ' if ema else ''}generator of step {best} to {workdir / EXPORT_DIR}")
        if self.validator is None:
            if run.lead:
                recorder.plot_curves(workdir)
            return result
        rows = self._rows.get(best) or self.validator.run(params)[1]
        table_rows = list(rows)
        if best != step:
            table_rows += [dict(r, method=f"{r['method']}_last") for r in self._rows[step]]
        result["val"] = mean_scores(rows)
        if run.lead:
            table, bicubic = self.validator.report(table_rows, workdir, self.notes(best, step))
            print(table)
            result.update(bicubic=bicubic, table=table)
        return result

    def notes(self, best: int, last: int) -> list[str]:
        """The lines under the final table: what chose the export, the baseline, and whether it was beaten."""
        sel, m = self.selection, self.score_metric

        def fmt(s: int) -> str:
            if s not in sel.history:
                return "not scored"
            return "not a candidate" if math.isnan(sel.history[s]) else format_score(m, sel.history[s])

        if sel.metric is None:
            lines = [f"selected: the last step, {last} ({m} {fmt(last)}) -> {EXPORT_DIR}/ and {EXPORT_LAST_DIR}/"]
        else:
            lines = [
                f"selected by {m}: step {best} ({fmt(best)}) -> {EXPORT_DIR}/; "
                f"last: step {last} ({fmt(last)}) -> {EXPORT_LAST_DIR}/"
            ]
        if self.drift_guard:
            out = sorted(s for s, v in sel.history.items() if math.isnan(v))
            start = self.baseline[DRIFT] if self.baseline and DRIFT in self.baseline else math.nan
            lines.append(
                f"drift guard: {len(out)} of {len(sel.history)} validated steps shifted colours beyond the start's "
                f"RGB drift ({start:.2f}) and were not candidates" + (f": steps {out}" if out else "")
            )
            if sel.best_step is None:
                lines.append("warning: no validated step kept the start's colour drift; exported the last step")
        if self.stopped == "patience":
            lines.append(f"stopped early at step {last}: config.train.patience={sel.patience}")
        elif self.stopped == "collapse":
            lines.append(f"stopped at step {last}: collapse detected (config.train.stop_on_collapse)")
        if self.baseline is not None and m in self.baseline and best in sel.history:
            start, got = self.baseline[m], sel.history[best]
            lines.append(f"start (step 0): {m} {format_score(m, start)}")
            worse = got > start if m in LOWER_IS_BETTER else got < start
            if worse:
                lines.append(
                    f"warning: the exported model (step {best}) is worse than the starting model on {m}: "
                    f"{format_score(m, got)} vs {format_score(m, start)} at step 0"
                )
        return lines
