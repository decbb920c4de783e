"""Automatic hyper-parameter search for a CNN with Optuna (S4.Q1): a resumable, comparable study.

The search space is the sheet's table (up to five convolutional and five dense layers, up to
256 filters and neurons, learning rate, optimiser) plus dropout, pooling and the kernel size.
A trial's configuration becomes layer specifications of ``cnnbook.arithmetic`` first, so the
arithmetic decides whether it is possible at all; the real network is ``arithmetic.to_torch``
of the same specifications. The guarantees:

- impossible configurations do not crash a study: a map shrunk below the pooling window (five
  2×2 pools on 28×28: 14, 7, 3, 1, then nothing) is *pruned* with the arithmetic's reason, kept as
  the trial's ``pruned_because`` user attribute;
- a study is stored in SQLite through Optuna's RDB storage under ``profiles.cache_dir()/studies``,
  in a file named by a key of everything that decides its result (space, budget, data, code).
  An interrupted study continues where it stopped (trials left ``RUNNING`` by a killed process
  are marked failed and redone); a finished one is loaded, not rerun;
- deterministic: before every trial the sampler is re-seeded from ``(seed, finished trials)``
  and each trial trains with ``training.fit`` at a fixed seed, so a resumed study draws the same
  configurations as an uninterrupted one;
- only the validation split is used by the search and the ablations; the test split is for the
  final model alone (``final_model``).

Progress: a tqdm bar per study on a terminal; Optuna's own log is set to WARNING, so pages stay silent.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook import arithmetic, training
from cnnbook.profiles import Profile, cache_dir

with warnings.catch_warnings():  # optuna imports tqdm.auto, which warns in a notebook without ipywidgets
    warnings.filterwarnings("ignore", message="IProgress not found")
    import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

TUNERS = ("random", "tpe", "hyperband")
#: KerasTuner's tuners and their Optuna counterparts (sampler, pruner) as used here.
KERAS_TUNER = {
    "random": ("RandomSearch", "RandomSampler", "NopPruner"),
    "tpe": ("BayesianOptimization", "TPESampler", "NopPruner"),
    "hyperband": ("Hyperband", "RandomSampler", "HyperbandPruner"),
}
POOLINGS = ("max", "avg")  # searched; the ablation adds "none"
ABLATION_POOLINGS = ("max", "avg", "none")
OPTIMIZERS = ("adam", "sgd")
KERNELS = (3, 5, 7)
INPUT_SHAPE = (1, 28, 28)
SHEET_WIDTH = 256  # the sheet's largest number of filters and neurons
DROPOUT = 0.3  # the ablation's dropout rate when the best configuration has none
TPE_STARTUP = 4  # TPE's first trials are random
CLASSES = 10


@dataclass(frozen=True)
class Budget:
    """How much a profile may spend on the search (equal for every tuner)."""

    max_width: int  # largest number of filters (the sheet: 256)
    trials: int  # trials per study
    epochs: int  # epochs per trial (the pruner's resource)
    seeds: tuple[int, ...]  # studies per tuner
    search_images: int  # training images a trial sees
    ablation_images: int  # training images of an ablation run (the final model sees all)
    final_epochs: int  # epochs of the ablation runs and of the final model
    ablation_seeds: tuple[int, ...]
    batch_size: int = 64


def budget(profile: Profile) -> Budget:
    """The search budget of ``profile``: the sheet's 256 on ``full``, a scaled-down space on ``quick``."""
    if profile.real_data:
        return Budget(max_width=SHEET_WIDTH, trials=40, epochs=4, seeds=(0, 1, 2), search_images=12000,
                      ablation_images=50000, final_epochs=8,
                      ablation_seeds=(0, 1, 2), batch_size=128)
    return Budget(max_width=16, trials=10, epochs=3, seeds=(0, 1, 2), search_images=600, ablation_images=1500,
                  final_epochs=3,
                  ablation_seeds=(0, 1), batch_size=32)


@dataclass(frozen=True)
class Config:
    """One point of the search space."""

    conv_layers: int
    filters: int
    kernel: int
    pooling: str  # max, avg or none (after every convolution)
    dense_layers: int
    neurons: int
    dropout: float
    optimizer: str
    lr: float


def widths(max_width: int, smallest: int = 8) -> list[int]:
    """The choices of filters and neurons: powers of two from ``smallest`` to ``max_width``."""
    return [2 ** k for k in range(int(math.log2(smallest)), int(math.log2(max_width)) + 1)]


def neurons(max_width: int) -> list[int]:
    """The choices of neurons: from 16 up to four times the widest convolution, at most the sheet's 256
    (dense layers are cheap next to convolutions on a CPU)."""
    return widths(min(SHEET_WIDTH, 4 * max_width), 16)


def space(max_width: int) -> pd.DataFrame:
    """The search space as a table: parameter, kind, choices or range."""
    rows = [("conv_layers", "int", "1 … 5"), ("filters", "categorical", ", ".join(map(str, widths(max_width)))),
            ("kernel", "categorical", ", ".join(map(str, KERNELS))), ("pooling", "categorical", ", ".join(POOLINGS)),
            ("dense_layers", "int", "0 … 5"), ("neurons", "categorical", ", ".join(map(str, neurons(max_width)))),
            ("dropout", "float", "0 … 0.5"), ("optimizer", "categorical", ", ".join(OPTIMIZERS)),
            ("lr", "float (log)", "1e-4 … 1e-2")]
    return pd.DataFrame(rows, columns=["parameter", "kind", "choices"])


def sample(trial: optuna.Trial, max_width: int) -> Config:
    """Draw a configuration from the trial (the same names and ranges as ``space``)."""
    return Config(
        conv_layers=trial.suggest_int("conv_layers", 1, 5),
        filters=trial.suggest_categorical("filters", widths(max_width)),
        kernel=trial.suggest_categorical("kernel", list(KERNELS)),
        pooling=trial.suggest_categorical("pooling", list(POOLINGS)),
        dense_layers=trial.suggest_int("dense_layers", 0, 5),
        neurons=trial.suggest_categorical("neurons", neurons(max_width)),
        dropout=trial.suggest_float("dropout", 0.0, 0.5),
        optimizer=trial.suggest_categorical("optimizer", list(OPTIMIZERS)),
        lr=trial.suggest_float("lr", 1e-4, 1e-2, log=True),
    )


class Infeasible(ValueError):
    """A configuration whose maps shrink below a pooling window or kernel (the arithmetic's reason)."""


def layers(config: Config) -> list:
    """The network of ``config`` as ``cnnbook.arithmetic`` layers: per block a 'same'-padded
    convolution, ReLU and a 2×2 pool (none when ``pooling`` is "none"); flatten, dropout; per dense layer Linear, ReLU, dropout; a 10-way output."""
    specs: list = []
    for block in range(1, config.conv_layers + 1):
        specs += [arithmetic.Conv(config.filters, config.kernel, padding="same", name=f"conv{block}"),
                  arithmetic.ReLU(f"relu{block}")]
        if config.pooling != "none":
            specs.append(arithmetic.Pool(config.pooling, 2, 2, name=f"pool{block}"))
    specs.append(arithmetic.Flatten("flatten"))
    if config.dropout > 0:
        specs.append(arithmetic.Dropout(config.dropout, "dropout0"))
    for dense in range(1, config.dense_layers + 1):
        specs += [arithmetic.Linear(config.neurons, name=f"dense{dense}"), arithmetic.ReLU(f"dense_relu{dense}")]
        if config.dropout > 0:
            specs.append(arithmetic.Dropout(config.dropout, f"dropout{dense}"))
    specs.append(arithmetic.Linear(CLASSES, name="output"))
    return specs


def check(config: Config) -> arithmetic.ArchitectureReport:
    """The arithmetic of ``config`` on 28×28 inputs; ``Infeasible`` with the reason if impossible."""
    try:
        return arithmetic.analyze(layers(config), INPUT_SHAPE)
    except arithmetic.LayerError as error:
        raise Infeasible(str(error)) from None


def build(config: Config, seed: int = 0) -> nn.Sequential:
    """The PyTorch network of ``config`` with initial weights fixed by ``seed`` (``Infeasible`` if impossible)."""
    check(config)
    training.seed_everything(seed)
    return arithmetic.to_torch(layers(config), INPUT_SHAPE)


# --- data ------------------------------------------------------------------------------------------

@dataclass
class SearchData:
    """The splits of the search: trials train on ``search``, ablation runs on ``ablation``, every
    choice is judged on ``validation``; ``final`` trains the chosen model, ``test`` is touched once by it."""

    search: TensorDataset
    validation: TensorDataset
    final: TensorDataset
    test: TensorDataset
    ablation: TensorDataset


def split_data(mnist, budget_: Budget, seed: int = 0) -> SearchData:
    """Hold a stratified quarter (at most 10,000 images) of the training split out for validation;
    trials see ``budget_.search_images`` of the rest, ablation runs ``budget_.ablation_images``."""
    fraction = min(0.25, 10000 / len(mnist.train))
    rest, validation = mnist.train.split(fraction, seed)
    rest = rest.shuffled(seed)
    search = rest.subset(slice(0, min(budget_.search_images, len(rest))))
    ablation = rest.subset(slice(0, min(budget_.ablation_images, len(rest))))
    return SearchData(search.tensors(), validation.tensors(), rest.tensors(), mnist.test.tensors(), ablation.tensors())


# --- one trial -------------------------------------------------------------------------------------

def objective(trial: optuna.Trial, data: SearchData, budget_: Budget, seed: int) -> float:
    """Train the trial's network for ``budget_.epochs`` and return its last validation accuracy.

    Each epoch's validation accuracy is reported to the pruner; an impossible configuration or a
    pruner's decision raises ``optuna.TrialPruned`` with the reason (also kept as user attribute
    ``pruned_because``). The trial's training seconds and epochs are user attributes ``seconds`` and
    ``epochs``."""
    config = sample(trial, budget_.max_width)
    try:
        model = build(config, seed)
    except Infeasible as error:
        trial.set_user_attr("pruned_because", f"impossible: {error}")
        trial.set_user_attr("seconds", 0.0)
        trial.set_user_attr("epochs", 0)
        raise optuna.TrialPruned(f"impossible: {error}") from None
    began = time.perf_counter()

    def report(epoch: int, record: dict) -> None:
        trial.report(record["val_accuracy"], epoch)
        trial.set_user_attr("seconds", time.perf_counter() - began)
        trial.set_user_attr("epochs", epoch)
        if trial.should_prune():
            trial.set_user_attr("pruned_because", f"pruner: stopped after epoch {epoch}")
            raise optuna.TrialPruned(f"pruner: stopped after epoch {epoch}")

    with tempfile.TemporaryDirectory() as runs, training.threads(1):  # trials live in the study, not as run folders
        run = training.fit(model, data.search, data.validation, epochs=budget_.epochs, batch_size=budget_.batch_size,
                           optimizer=config.optimizer, lr=config.lr, seed=seed, name=f"trial{trial.number}",
                           progress=False, on_epoch=report, runs_dir=Path(runs))
    trial.set_user_attr("seconds", time.perf_counter() - began)
    return float(run.history.val_accuracy.iloc[-1])


# --- studies ---------------------------------------------------------------------------------------

def make_sampler(tuner: str, seed: int) -> optuna.samplers.BaseSampler:
    """KerasTuner's tuner ``tuner`` as an Optuna sampler (random configurations, or TPE)."""
    if tuner == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP)
    if tuner in ("random", "hyperband"):
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown tuner {tuner!r}; one of {TUNERS}")


def make_pruner(tuner: str, budget_: Budget) -> optuna.pruners.BasePruner:
    """Hyperband's successive halving over epochs (``HyperbandPruner``) or no pruning."""
    if tuner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=budget_.epochs, reduction_factor=3)
    return optuna.pruners.NopPruner()


def study_key(data: SearchData, budget_: Budget) -> str:
    """A key of everything that decides a study's trials: budget, data and the code that runs them."""
    parts = {"budget": asdict(budget_), "data": [training.data_fingerprint(d) for d in (data.search, data.validation)],
             "code": _STUDY_CODE,
             "fit": inspect.getsource(training.fit), "optuna": optuna.__version__, "torch": torch.__version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def storage_path(data: SearchData, budget_: Budget, directory: Path | None = None) -> Path:
    """The SQLite file of this search's studies (one study per tuner and seed)."""
    return Path(directory or cache_dir() / "studies") / f"search-{study_key(data, budget_)}.db"


FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def finished(study: optuna.Study) -> int:
    """Trials that completed or were pruned (failed ones are redone)."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def run_study(tuner: str, seed: int, data: SearchData, budget_: Budget, *, directory: Path | None = None,
              progress: bool | None = None,
              after_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None) -> optuna.Study:
    """Run (or continue, or load) the study of ``tuner`` with ``seed`` until it has ``budget_.trials``
    finished trials. ``after_trial`` is an Optuna callback (tests use it to kill a study midway)."""
    from tqdm import tqdm

    path = storage_path(data, budget_, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
    study = optuna.create_study(study_name=f"{tuner}-seed{seed}", storage=storage, direction="maximize",
                                load_if_exists=True, pruner=make_pruner(tuner, budget_))
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)  # left by a killed process
    done = finished(study)
    bar = tqdm(total=budget_.trials, initial=done, desc=f"{tuner} seed {seed}", unit="trial",
               disable=None if progress is None else not progress)
    callbacks = [after_trial] if after_trial else []
    while done < budget_.trials:
        study.sampler = make_sampler(tuner, seed * 10007 + done)  # the same draws after a restart
        study.optimize(lambda trial: objective(trial, data, budget_, seed), n_trials=1, callbacks=callbacks,
                       catch=(), gc_after_trial=False)
        done = finished(study)
        bar.update(1)
    bar.close()
    return study


def run_all(data: SearchData, budget_: Budget, tuners: Iterable[str] = TUNERS, **kwargs) -> dict[tuple[str, int], optuna.Study]:
    """Every tuner on every seed of the budget."""
    return {(tuner, seed): run_study(tuner, seed, data, budget_, **kwargs) for tuner in tuners for seed in budget_.seeds}


# --- reading studies -------------------------------------------------------------------------------

def trials_frame(studies: dict[tuple[str, int], optuna.Study]) -> pd.DataFrame:
    """One row per finished trial: tuner, seed, trial (1…), state, value, seconds, epochs, the best
    value so far, cumulative seconds (``elapsed``) and epochs (``spent``), why it was pruned, and the
    parameters (from ``trials_dataframe``)."""
    frames = []
    for (tuner, seed), study in studies.items():
        df = study.trials_dataframe(attrs=("number", "value", "state", "params", "user_attrs"))
        df = df[df.state.isin(["COMPLETE", "PRUNED"])].sort_values("number").reset_index(drop=True)
        df.columns = [c.replace("params_", "").replace("user_attrs_", "") for c in df.columns]
        if "pruned_because" not in df:
            df["pruned_because"] = None
        df.insert(0, "tuner", tuner)
        df.insert(1, "seed", seed)
        df["trial"] = np.arange(1, len(df) + 1)
        df["value"] = df.value.where(df.state == "COMPLETE")
        df["best"] = df.value.cummax().ffill()
        df["elapsed"] = df.seconds.fillna(0.0).cumsum()
        df["spent"] = df.epochs.fillna(0).astype(int).cumsum()
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per tuner: best validation accuracy after all trials (mean, min, max over seeds), total
    training seconds and epochs (means), trials completed, pruned by the pruner, pruned as
    impossible (means), and the mean best accuracy within the training epochs the most frugal
    tuner needed (an equal budget of epochs: unlike seconds, it does not depend on the machine's load)."""
    last = frame.groupby(["tuner", "seed"]).agg(best=("best", "last"), seconds=("elapsed", "last"),
                                               epochs=("spent", "last"),
                                               completed=("state", lambda s: int((s == "COMPLETE").sum())))
    kinds = frame.assign(impossible=frame.pruned_because.fillna("").str.startswith("impossible"),
                         stopped=frame.pruned_because.fillna("").str.startswith("pruner"))
    counts = kinds.groupby(["tuner", "seed"]).agg(impossible=("impossible", "sum"), stopped=("stopped", "sum"))
    per_seed = last.join(counts)
    equal = per_seed.groupby("tuner").epochs.mean().min()
    at_equal = {key: best_within(group, equal) for key, group in frame.groupby(["tuner", "seed"])}
    per_seed["best_at_equal_epochs"] = pd.Series(at_equal)
    rows = per_seed.groupby("tuner").agg(best_mean=("best", "mean"), best_min=("best", "min"), best_max=("best", "max"),
                                         seconds=("seconds", "mean"), epochs=("epochs", "mean"),
                                         completed=("completed", "mean"), stopped=("stopped", "mean"),
                                         impossible=("impossible", "mean"),
                                         best_at_equal_epochs=("best_at_equal_epochs", "mean"))
    rows["equal_epochs"] = equal
    return rows.reindex([t for t in TUNERS if t in rows.index]).reset_index()


def best_within(trials: pd.DataFrame, budget_: float, column: str = "spent") -> float:
    """Best validation accuracy among the trials that finished within ``budget_`` of training
    (``column``: cumulative epochs ``spent`` or seconds ``elapsed``)."""
    inside = trials[trials[column] <= budget_ + 1e-9]
    return float(inside.value.max()) if inside.value.notna().any() else float("nan")


def choose(table: pd.DataFrame) -> str:
    """The tuner with the highest mean best accuracy at an equal budget of epochs (ties: the cheaper)."""
    ranked = table.sort_values(["best_at_equal_epochs", "epochs"], ascending=[False, True])
    return str(ranked.tuner.iloc[0])


def best_config(frame: pd.DataFrame) -> Config:
    """The configuration of the best completed trial over all studies (ties: the earliest listed)."""
    row = frame[frame.state == "COMPLETE"].sort_values("value", ascending=False, kind="stable").iloc[0]
    return config_of(row)


def config_of(row: pd.Series) -> Config:
    """A ``Config`` from a row of ``trials_frame``."""
    return Config(int(row.conv_layers), int(row.filters), int(row.kernel), str(row.pooling), int(row.dense_layers),
                  int(row.neurons), float(row.dropout), str(row.optimizer), float(row.lr))


def importances(studies: dict[tuple[str, int], optuna.Study], tuner: str = "random", seed: int = 0) -> pd.Series:
    """fANOVA parameter importances (``optuna.importance``) over the completed trials of every study
    of ``tuner`` pooled into one (random search: uniform samples of the space)."""
    pooled = optuna.create_study(direction="maximize")
    pooled.add_trials([t for (name, _), study in studies.items() if name == tuner
                       for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))])
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    values = optuna.importance.get_param_importances(pooled, evaluator=evaluator)
    return pd.Series(values, name="importance")


def slice_figure(frame: pd.DataFrame, parameters: list[str]):
    """Optuna's slice plot drawn with matplotlib: validation accuracy against each parameter, every
    completed trial of every study, coloured by tuner (learning rate on a log axis)."""
    from cnnbook import plots

    done = frame[frame.state == "COMPLETE"]
    columns = 2
    fig, axes = plots.figure(math.ceil(len(parameters) / columns), columns, panel=(3.6, 2.4), sharey=True)
    for ax, name in zip(axes.flat, parameters):
        values = done[name]
        numeric = pd.api.types.is_numeric_dtype(values)
        for tuner, group in done.groupby("tuner"):
            if numeric:
                x = group[name].astype(float)
            else:
                order = sorted(done[name].unique())
                jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(group))
                x = group[name].map({v: i for i, v in enumerate(order)}) + jitter
                ax.set_xticks(range(len(order)), order)
            ax.scatter(x, group.value, s=22 if tuner == "hyperband" else 14, alpha=0.8, label=tuner,
                       **STYLES[tuner]["marker"])
        if name == "lr":
            ax.set_xscale("log")
        ax.set_xlabel(name)
    for row in axes:
        row[0].set_ylabel("validation accuracy")
    axes[0][-1].legend(title="tuner", loc="lower right")
    return fig


#: one look per tuner in the figures (random search and Hyperband often coincide: dashed over solid)
STYLES = {"random": {"line": {"color": "#1f77b4", "linestyle": "-"}, "marker": {"color": "#1f77b4", "marker": "o"}},
          "tpe": {"line": {"color": "#ff7f0e", "linestyle": "-"}, "marker": {"color": "#ff7f0e", "marker": "s"}},
          "hyperband": {"line": {"color": "#2ca02c", "linestyle": "--"},
                        "marker": {"color": "#2ca02c", "marker": "x"}}}


def progress_figure(frame: pd.DataFrame):
    """Best validation accuracy so far against trials, cumulative training epochs and cumulative
    training seconds: mean over seeds per tuner (the range of seeds shaded against trials)."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 3, panel=(3.0, 2.8), sharey=True)
    for tuner, group in frame.groupby("tuner", sort=False):
        table = group.pivot(index="trial", columns="seed", values="best")
        axes[0][0].plot(table.index, table.mean(axis=1), label=tuner, **STYLES[tuner]["line"])
        axes[0][0].fill_between(table.index, table.min(axis=1), table.max(axis=1), color=STYLES[tuner]["line"]["color"],
                                alpha=0.12)
        for ax, column in ((axes[0][1], "spent"), (axes[0][2], "elapsed")):
            end = group.groupby("seed")[column].max().mean()
            grid = np.linspace(0, end, 100)
            curves = np.array([[best_within(g, t, column) for t in grid] for _, g in group.groupby("seed")])
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a budget before any trial completed
                mean = np.nanmean(curves, axis=0)
            ax.plot(grid, mean, label=tuner, **STYLES[tuner]["line"])
    axes[0][0].set_xlabel("trials")
    axes[0][0].set_ylabel("best validation accuracy so far")
    axes[0][1].set_xlabel("cumulative training epochs")
    axes[0][2].set_xlabel("cumulative training time (s)")
    for ax in axes[0]:
        ax.legend(title="tuner", loc="lower right")
    return fig


# --- after the search ------------------------------------------------------------------------------

def variants(best: Config) -> dict[str, Config]:
    """The ablation around ``best``: dropout off and on (the best rate, or ``DROPOUT`` if the best has
    none), each pooling, each kernel size; every variant changes one thing."""
    out = {"best": best, "no_dropout": replace(best, dropout=0.0),
           "with_dropout": replace(best, dropout=best.dropout or DROPOUT)}
    for pooling in ABLATION_POOLINGS:
        out[f"pool_{pooling}"] = replace(best, pooling=pooling)
    for kernel in KERNELS:
        out[f"kernel_{kernel}"] = replace(best, kernel=kernel)
    return out


def train_config(config: Config, train: TensorDataset, validation: TensorDataset, epochs: int, seed: int,
                 batch_size: int, name: str) -> training.Run:
    """Train ``config`` with ``training.fit`` (cached as a run, on one CPU thread: the fastest for
    networks this small) and return the run."""
    with training.threads(1):
        return training.fit(build(config, seed), train, validation, epochs=epochs, batch_size=batch_size,
                            optimizer=config.optimizer, lr=config.lr, seed=seed, name=name)


def ablation(best: Config, data: SearchData, budget_: Budget) -> pd.DataFrame:
    """Each variant of ``variants(best)`` trained on the ablation's training images for the final
    budget of epochs, over the ablation seeds (same data, epochs and seeds for all): validation
    accuracy (mean, min, max), the gap between the last epoch's training accuracy and the validation
    accuracy (mean), parameters, and why a variant is impossible."""
    rows = []
    for key, config in variants(best).items():
        row = {"key": key, "dropout": config.dropout, "pooling": config.pooling, "kernel": config.kernel}
        try:
            row["params"] = check(config).total_params
        except Infeasible as error:
            rows.append({**row, "impossible": str(error)})
            continue
        last = [train_config(config, data.ablation, data.validation, budget_.final_epochs, seed, budget_.batch_size,
                             "search-ablation").history.iloc[-1] for seed in budget_.ablation_seeds]
        scores = [float(h.val_accuracy) for h in last]
        rows.append({**row, "accuracy": float(np.mean(scores)), "accuracy_min": min(scores),
                     "accuracy_max": max(scores), "gap": float(np.mean([h.train_accuracy - h.val_accuracy for h in last])),
                     "impossible": ""})
    return pd.DataFrame(rows)


def final_model(best: Config, data: SearchData, budget_: Budget, seed: int = 0) -> tuple[training.Run, float]:
    """Train ``best`` on every training image outside the validation split and measure its test
    accuracy: the one time the search touches the test split."""
    run = train_config(best, data.final, data.validation, budget_.final_epochs, seed, budget_.batch_size,
                       "search-final")
    with training.threads(1):
        return run, training.predict(run.model, data.test).accuracy


def architecture(config: Config) -> pd.DataFrame:
    """The final network's per-layer table from ``cnnbook.arithmetic`` (read off the real module)."""
    return arithmetic.analyze(build(config), INPUT_SHAPE).frame()


#: the code that decides a study's trials (part of its key; read once, so a test may replace ``objective``)
_STUDY_CODE = "".join(inspect.getsource(f) for f in (sample, space, widths, neurons, layers, check, build, split_data,
                                                     objective, make_sampler, make_pruner))
