"""search: every sampled configuration builds and runs or is pruned with a reason; studies are
stored in SQLite, continue after a kill, are reused when finished; the tuner summary is right."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from torch.utils.data import TensorDataset

from cnnbook import search

ROOT = Path(__file__).resolve().parents[1]
TINY = search.Budget(max_width=16, trials=4, epochs=2, seeds=(0,), search_images=64, ablation_images=64, final_epochs=1,
                     ablation_seeds=(0,), batch_size=32)


def tiny_data() -> search.SearchData:
    """Random 28×28 digits-like tensors, identical in every process."""
    rng = np.random.default_rng(0)
    def part(n: int) -> TensorDataset:
        return TensorDataset(torch.from_numpy(rng.random((n, 1, 28, 28), dtype=np.float32)),
                             torch.from_numpy(rng.integers(0, 10, n)))
    return search.SearchData(part(64), part(32), part(64), part(32), part(64))


def test_every_sampled_configuration_builds_and_runs_or_is_impossible_for_a_reason():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = {"built": 0, "impossible": 0}
    x = torch.rand(2, 1, 28, 28)
    for _ in range(60):
        trial = study.ask()
        config = search.sample(trial, 256)
        impossible = config.conv_layers == 5 and config.pooling != "none"  # five 2×2 pools: 14, 7, 3, 1, 0
        try:
            model = search.build(config)
        except search.Infeasible as error:
            assert impossible and "pool5" in str(error), error
            seen["impossible"] += 1
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        assert not impossible
        assert model(x).shape == (2, search.CLASSES)
        assert search.check(config).total_params == sum(p.numel() for p in model.parameters())
        seen["built"] += 1
        study.tell(trial, 0.0)
    assert seen["built"] > 20 and seen["impossible"] > 0


def test_the_space_table_names_every_sampled_parameter():
    trial = optuna.create_study().ask()
    search.sample(trial, 256)
    assert list(search.space(256).parameter) == list(trial.params)
    assert search.widths(256)[-1] == 256 and search.widths(32) == [8, 16, 32]
    assert search.neurons(256)[-1] == 256 and search.neurons(16) == [16, 32, 64]


def test_an_impossible_trial_is_pruned_with_its_reason_not_crashed():
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"conv_layers": 5, "filters": 8, "kernel": 3, "pooling": "max", "dense_layers": 0,
                         "neurons": 16, "dropout": 0.0, "optimizer": "adam", "lr": 1e-3})
    study.optimize(lambda t: search.objective(t, tiny_data(), TINY, 0), n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["pruned_because"].startswith("impossible") and "pool" in trial.user_attrs["pruned_because"]


KILLED = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from test_search import TINY, tiny_data
    from cnnbook import search
    def kill(study, trial):
        if search.finished(study) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    search.run_study("tpe", 0, tiny_data(), TINY, directory=Path({directory!r}), after_trial=kill, progress=False)
""")


def test_a_killed_study_continues_where_it_stopped_and_a_finished_one_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path / "cache"))
    killed = tmp_path / "killed"
    code = KILLED.format(tests=str(ROOT / "tests"), directory=str(killed))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "CNNBOOK_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == -9, result.stderr  # killed midway
    path = search.storage_path(tiny_data(), TINY, killed)
    before = optuna.load_study(study_name="tpe-seed0", storage=f"sqlite:///{path}")
    assert search.finished(before) == 2
    resumed = search.run_study("tpe", 0, tiny_data(), TINY, directory=killed, progress=False)
    assert search.finished(resumed) == TINY.trials
    assert [t.number for t in resumed.get_trials(states=search.FINISHED)][:2] == [0, 1]  # the first two are kept
    # the same configurations as a study that was never interrupted
    whole = search.run_study("tpe", 0, tiny_data(), TINY, directory=tmp_path / "whole", progress=False)
    params = lambda s: [t.params for t in s.get_trials(states=search.FINISHED)]  # noqa: E731
    assert params(resumed) == params(whole)
    # finished: loaded, no trial runs
    monkeypatch.setattr(search, "objective", lambda *a: pytest.fail("a finished study ran a trial"))
    again = search.run_study("tpe", 0, tiny_data(), TINY, directory=killed, progress=False)
    assert len(again.trials) == len(resumed.trials)


def test_hyperband_prunes_with_the_pruner_and_the_frame_records_why(tmp_path):
    budget = search.Budget(**{**TINY.__dict__, "trials": 6, "epochs": 3})
    studies = {(t, 0): search.run_study(t, 0, tiny_data(), budget, directory=tmp_path, progress=False)
               for t in ("random", "hyperband")}
    frame = search.trials_frame(studies)
    assert set(frame.tuner) == {"random", "hyperband"} and (frame.groupby("tuner").trial.max() == 6).all()
    # random search and Hyperband draw the same configurations: only the pruner differs
    assert (frame[frame.tuner == "random"].filters.to_numpy() == frame[frame.tuner == "hyperband"].filters.to_numpy()).all()
    random = frame[frame.tuner == "random"]
    assert not random.pruned_because.fillna("").str.startswith("pruner").any()
    hyper = frame[frame.tuner == "hyperband"]
    assert hyper.spent.iloc[-1] <= random.spent.iloc[-1]
    fig = search.progress_figure(frame)
    assert [ax.get_xlabel() for ax in fig.axes] == ["trials", "cumulative training epochs", "cumulative training time (s)"]
    assert all(ax.get_legend() is not None for ax in fig.axes)
    fig = search.slice_figure(frame, ["lr", "pooling"])
    assert fig.axes[0].get_xscale() == "log" and fig.axes[1].get_xlabel() == "pooling"


def test_summary_compares_at_an_equal_budget_of_epochs_and_chooses():
    rows = []
    for tuner, values, epochs in (("random", [0.5, 0.6, 0.9], [3, 3, 3]), ("hyperband", [0.5, None, 0.8], [3, 1, 3])):
        for i, (v, e) in enumerate(zip(values, epochs)):
            rows.append({"tuner": tuner, "seed": 0, "trial": i + 1, "state": "COMPLETE" if v else "PRUNED",
                         "value": v, "seconds": float(e), "epochs": e,
                         "pruned_because": None if v else "pruner: stopped after epoch 1"})
    frame = pd.DataFrame(rows)
    frame["best"] = frame.groupby("tuner").value.cummax()
    frame["best"] = frame.groupby("tuner").best.ffill()
    frame["elapsed"] = frame.groupby("tuner").seconds.cumsum()
    frame["spent"] = frame.groupby("tuner").epochs.cumsum()
    table = search.summary(frame).set_index("tuner")
    assert table.loc["hyperband", "epochs"] == 7 and table.loc["random", "epochs"] == 9
    assert table.loc["random", "best_at_equal_epochs"] == 0.6  # within 7 epochs random had two trials
    assert table.loc["hyperband", "best_at_equal_epochs"] == 0.8
    assert table.loc["hyperband", "stopped"] == 1
    assert search.choose(table.reset_index()) == "hyperband"


def test_variants_change_one_thing_each():
    best = search.Config(2, 16, 3, "max", 1, 32, 0.2, "adam", 1e-3)
    for key, config in search.variants(best).items():
        changed = [f for f in best.__dataclass_fields__ if getattr(best, f) != getattr(config, f)]
        assert len(changed) <= 1, (key, changed)
    assert search.variants(best)["pool_none"].pooling == "none"
    assert search.architecture(best).params.sum() == search.check(best).total_params
