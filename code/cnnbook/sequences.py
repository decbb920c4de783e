"""Recurrent networks on sequences: many-to-one sentiment (S1.T3) and a gas-consumption LSTM (S4.Q3).

Two procedural tasks, generated with a fixed seed, so that every claim can be checked against a
known truth:

- **Sentiment** (``sentiment_data``): sentences of ``n`` words from a small vocabulary in which
  some words are positive or negative and *not* flips the next word; the label is the summed
  sentiment clipped to five integer classes (0 very negative … 4 very positive). ``SentimentRNN``
  (embedding, Elman RNN, linear head) computes a hidden state at every step; for many-to-one
  classification only the last one goes through the softmax. ``shapes`` lists every tensor.
- **Gas consumption** (``gas_series``): an hourly series driven by temperature (heating below
  18 °C), hour of day and month, with weather noise; the sheet's notebook and data are not
  provided, so the task is reconstructed. ``forecast`` runs the day-ahead LSTM pipeline
  correctly or with one of the faults in ``FAULTS``, and ``r2`` scores it; ``yesterday`` is the
  baseline a forecaster must beat (the value 24 hours earlier).

Training goes through ``training.fit`` (cached runs, deterministic given the seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook import training
from cnnbook.provenance import DataSource

# --- S1.T3: many-to-one sentiment ----------------------------------------------------------------

#: word -> sentiment value; "not" flips the sign of the next word; "<pad>" (index 0) fills short sentences
LEXICON = {"<pad>": 0, "not": 0, "the": 0, "film": 0, "plot": 0, "acting": 0, "music": 0, "was": 0, "is": 0,
           "and": 0, "but": 0, "very": 0, "story": 0, "ending": 0,
           "good": 1, "nice": 1, "fun": 1, "clever": 1, "excellent": 2, "wonderful": 2,
           "bad": -1, "dull": -1, "weak": -1, "boring": -1, "awful": -2, "terrible": -2}
VOCABULARY = tuple(LEXICON)
SENTIMENT_CLASSES = 5  # 0 very negative, 1 negative, 2 neutral, 3 positive, 4 very positive
LENGTHS = (4, 12)  # fewest and most words of a sentence


def sentiment_score(words: list[str]) -> int:
    """Summed sentiment of a sentence, each word after *not* counted with the opposite sign."""
    total, flip = 0, 1
    for word in words:
        total += flip * LEXICON[word]
        flip = -1 if word == "not" else 1
    return total


def sentiment_class(words: list[str]) -> int:
    """The integer class: the score clipped to −2…2, shifted to 0…4."""
    return int(np.clip(sentiment_score(words), -2, 2)) + 2


def sentences(count: int, lengths: tuple[int, int] = LENGTHS, seed: int = 0) -> list[list[str]]:
    """``count`` random sentences with ``lengths[0]``…``lengths[1]`` words (half of the words neutral)."""
    rng = np.random.default_rng(seed)
    neutral = [w for w, v in LEXICON.items() if v == 0 and w != "<pad>"]
    charged = [w for w, v in LEXICON.items() if v != 0]
    out = []
    for _ in range(count):
        n = int(rng.integers(lengths[0], lengths[1] + 1))
        out.append([str(rng.choice(neutral if rng.random() < 0.55 else charged)) for _ in range(n)])
    return out


def encode(words: list[str], length: int | None = None) -> torch.Tensor:
    """Word indices of a sentence, padded on the left with ``<pad>`` to ``length`` (so the last
    step is always the last word)."""
    index = [VOCABULARY.index(w) for w in words]
    pad = 0 if length is None else length - len(index)
    return torch.tensor([0] * pad + index, dtype=torch.long)


def sentiment_data(count: int, lengths: tuple[int, int] = LENGTHS, seed: int = 0) -> tuple[TensorDataset, list[list[str]]]:
    """``(data, sentences)``: left-padded word indices ``N×max_len`` and classes, and the words."""
    texts = sentences(count, lengths, seed)
    x = torch.stack([encode(t, lengths[1]) for t in texts])
    y = torch.tensor([sentiment_class(t) for t in texts])
    return TensorDataset(x, y), texts


def sentiment_source(count: int) -> DataSource:
    """The provenance record of the procedural sentences (not a stand-in: no real set is implied)."""
    return DataSource("procedural sentiment sentences (cnnbook.sequences)", False, f"N = {count:,}")


class SentimentRNN(nn.Module):
    """Embedding → Elman RNN (tanh) → linear head; ``forward`` returns the last step's logits."""

    def __init__(self, vocabulary: int = len(VOCABULARY), embedding: int = 16, hidden: int = 32,
                 classes: int = SENTIMENT_CLASSES):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, embedding, padding_idx=0)
        self.rnn = nn.RNN(embedding, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def states(self, words: torch.Tensor) -> torch.Tensor:
        """Hidden states at every step, ``B×n×hidden``."""
        outputs, _ = self.rnn(self.embed(words))
        return outputs

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        return self.head(self.states(words)[:, -1])  # many-to-one: the last state only


@torch.no_grad()
def shapes(model: SentimentRNN, words: list[str]) -> pd.DataFrame:
    """Every tensor of one test-time pass over one unpadded sentence: name and shape."""
    model.eval()
    x = encode(words).unsqueeze(0)
    embedded = model.embed(x)
    states, last = model.rnn(embedded)
    per_step = model.head(states)
    final = torch.softmax(model.head(states[:, -1]), dim=1)
    rows = [("words", x), ("embedded", embedded), ("states", states), ("last_state", last),
            ("per_step_logits", per_step), ("softmax", final)]
    return pd.DataFrame({"tensor": [r[0] for r in rows], "shape": ["×".join(map(str, r[1].shape)) for r in rows]})


@torch.no_grad()
def accuracy_by_step(model: SentimentRNN, texts: list[list[str]]) -> pd.DataFrame:
    """For sentences of one length ``n``: the accuracy of the head applied to the state after
    ``t`` words, ``t = 1…n`` (only ``t = n`` has read the whole sentence)."""
    model.eval()
    x = torch.stack([encode(t) for t in texts])
    y = torch.tensor([sentiment_class(t) for t in texts])
    predicted = model.head(model.states(x)).argmax(dim=2)  # B×n
    return pd.DataFrame({"step": np.arange(1, x.shape[1] + 1),
                         "accuracy": (predicted == y[:, None]).float().mean(dim=0).numpy()})


def steps_figure(by_step: pd.DataFrame):
    """Accuracy against the number of words read (``accuracy_by_step``)."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 1, panel=(4.2, 2.4))
    axes[0][0].plot(by_step.step, 100 * by_step.accuracy, marker="o")
    axes[0][0].set_xlabel("words read (state used for the softmax)")
    axes[0][0].set_ylabel(f"accuracy on {len(by_step)}-word sentences (%)")
    return fig


def train_sentiment(count: int, epochs: int, seed: int = 0) -> tuple[training.Run, TensorDataset, list[list[str]]]:
    """Train ``SentimentRNN`` on ``count`` sentences (a fifth held out) and return the run and the
    held-out data with its words."""
    data, texts = sentiment_data(count, seed=seed)
    cut = int(0.8 * count)
    train = TensorDataset(*(t[:cut] for t in data.tensors))
    test = TensorDataset(*(t[cut:] for t in data.tensors))
    training.seed_everything(seed)
    with training.threads(1):
        run = training.fit(SentimentRNN(), train, test, epochs=epochs, lr=3e-3, seed=seed, name="sentiment-rnn")
    return run, test, texts[cut:]


# --- S4.Q3: gas consumption -----------------------------------------------------------------------

HEATING_BASE = 18.0  # °C: below it, consumption grows with the temperature deficit
WINDOW = 24  # hours of inputs per forecast
DAYS = 730  # length of the series
TEST_FRACTION = 0.2  # the last part of the series, in time order
FEATURES = ("yesterday", "temperature", "hour_sin", "hour_cos", "month_sin", "month_cos")


def gas_series(days: int = DAYS, seed: int = 0) -> pd.DataFrame:
    """An hourly gas-consumption series (m³/h, synthetic) with its drivers: temperature (seasonal
    and daily cycles plus an autoregressive weather anomaly), hour and month.

    consumption = 40 + 9·max(0, 18 − T) + a daily profile (morning and evening peaks, scaled up
    when heating) + noise."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2022-01-01", periods=days * 24, freq="h")
    day = time.day_of_year.to_numpy()
    hour = time.hour.to_numpy()
    anomaly = np.zeros(len(time))
    shocks = rng.normal(0, 0.35, len(time))
    for i in range(1, len(time)):
        anomaly[i] = 0.995 * anomaly[i - 1] + shocks[i]
    temperature = 14 - 11 * np.cos(2 * np.pi * (day - 15) / 365) - 4 * np.cos(2 * np.pi * (hour - 3) / 24) + anomaly
    deficit = np.maximum(0.0, HEATING_BASE - temperature)
    profile = 15 * np.exp(-((hour - 8) ** 2) / 4) + 20 * np.exp(-((hour - 20) ** 2) / 6) - 10 * (hour < 5)
    consumption = 40 + 9 * deficit + profile * (1 + deficit / 10) + rng.normal(0, 8, len(time))
    return pd.DataFrame({"time": time, "temperature": temperature, "hour": hour, "month": time.month.to_numpy(),
                         "consumption": np.maximum(consumption, 0.0)})


def gas_source(series: pd.DataFrame) -> DataSource:
    """The provenance record of the synthetic gas series (the sheet's notebook data are not provided)."""
    return DataSource("synthetic hourly gas consumption (cnnbook.sequences)", False, f"{len(series):,} hours")


def gas_features(series: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(features, target)`` per hour: yesterday's consumption at the same hour, the temperature
    (known a day ahead from a forecast) and the hour and month as angles; hours without a
    yesterday are dropped."""
    hour, month = series.hour.to_numpy(), series.month.to_numpy()
    x = np.stack([series.consumption.shift(24).to_numpy(), series.temperature.to_numpy(),
                  np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
                  np.sin(2 * np.pi * month / 12), np.cos(2 * np.pi * month / 12)], axis=1)
    return x[24:].astype(np.float32), series.consumption.to_numpy()[24:].astype(np.float32)


def windows(x: np.ndarray, y: np.ndarray, window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of hours ``t−window+1…t`` and the target of hour ``t``, for every complete window."""
    count = len(x) - window + 1
    index = np.arange(window)[None, :] + np.arange(count)[:, None]
    return x[index], y[window - 1:]


class Standardiser:
    """Per-column mean and standard deviation of the training part (sklearn's StandardScaler)."""

    def __init__(self, values: np.ndarray):
        self.mean, self.std = values.mean(axis=0), values.std(axis=0)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.std + self.mean


class GasLSTM(nn.Module):
    """LSTM over the window, linear read-out of the last state: one number per window."""

    def __init__(self, features: int = len(FEATURES), hidden: int = 32):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.lstm(x)
        return self.head(outputs[:, -1])


#: the faults ``forecast`` can reproduce, each a common bug of such notebooks
FAULTS = ("correct", "not_inverted", "wrong_scaler", "unscaled_target")


@dataclass
class Forecast:
    """Predictions and truth on the test period, in consumption units (as the pipeline reports them)."""

    pipeline: str
    predicted: np.ndarray
    actual: np.ndarray
    yesterday: np.ndarray  # the baseline: consumption 24 hours earlier
    seconds: float


def r2(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination 1 − SS_res / SS_tot (``sklearn.metrics.r2_score``)."""
    from sklearn.metrics import r2_score

    return float(r2_score(actual, predicted))


def forecast(series: pd.DataFrame, pipeline: str = "correct", epochs: int = 4, seed: int = 0,
             test_fraction: float = TEST_FRACTION) -> Forecast:
    """Train the day-ahead LSTM on the first part of the series in time order and predict the rest.

    ``pipeline``: ``correct`` (inputs and target standardised on the training part, predictions
    transformed back with the target's scaler); ``not_inverted`` (the same model, predictions left
    in standardised units); ``wrong_scaler`` (transformed back with the temperature column's
    scaler); ``unscaled_target`` (trained on the raw consumption)."""
    if pipeline not in FAULTS:
        raise ValueError(f"unknown pipeline {pipeline!r}; one of {FAULTS}")
    x, y = gas_features(series)
    cut = int(len(x) * (1 - test_fraction))
    xs, ys = Standardiser(x[:cut]), Standardiser(y[:cut, None])
    scaled = xs.transform(x)
    target = y[:, None] if pipeline == "unscaled_target" else ys.transform(y[:, None])
    train_x, train_y = windows(scaled[:cut], target[:cut])
    test_x, _ = windows(scaled[cut - WINDOW + 1:], target[cut - WINDOW + 1:])
    actual = y[cut:]
    training.seed_everything(seed)
    with training.threads(1):
        data = TensorDataset(torch.from_numpy(train_x), torch.from_numpy(train_y.astype(np.float32)))
        run = training.fit(GasLSTM(), data, epochs=epochs, batch_size=128, lr=1e-3, loss=nn.MSELoss(), seed=seed,
                           name=f"gas-lstm-{'raw' if pipeline == 'unscaled_target' else 'scaled'}")
        with torch.no_grad():
            out = run.model(torch.from_numpy(test_x)).numpy()
    if pipeline == "correct":
        predicted = ys.inverse(out)
    elif pipeline == "wrong_scaler":
        column = FEATURES.index("temperature")
        predicted = out * xs.std[column] + xs.mean[column]
    else:  # not_inverted: standardised units; unscaled_target: already raw
        predicted = out
    return Forecast(pipeline, predicted[:, 0], actual, x[cut:, FEATURES.index("yesterday")], run.seconds)


def pipelines(series: pd.DataFrame, epochs: int, seed: int = 0) -> tuple[pd.DataFrame, dict[str, Forecast]]:
    """R² on the test period of every pipeline of ``FAULTS`` and of the yesterday baseline (with the
    mean predicted and actual consumption), and the forecasts themselves."""
    rows, results = [], {}
    for name in FAULTS:
        results[name] = result = forecast(series, name, epochs, seed)
        rows.append({"key": name, "r2": r2(result.actual, result.predicted),
                     "mean_predicted": float(result.predicted.mean()), "mean_actual": float(result.actual.mean())})
    rows.append({"key": "yesterday", "r2": r2(result.actual, result.yesterday),
                 "mean_predicted": float(result.yesterday.mean()), "mean_actual": float(result.actual.mean())})
    return pd.DataFrame(rows), results


def forecast_figure(results: dict[str, Forecast], start: int = 0, hours: int = 168):
    """One week of the test period: actual consumption, yesterday's value and each pipeline's forecast."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 1, panel=(8.0, 2.8))
    ax = axes[0][0]
    span = slice(start, start + hours)
    first = next(iter(results.values()))
    t = np.arange(hours)
    ax.plot(t, first.actual[span], color="black", label="actual", linewidth=1.8)
    ax.plot(t, first.yesterday[span], color=plots.COLOURS["reference"], linestyle=":", label="yesterday's value")
    for name, result in results.items():
        ax.plot(t, result.predicted[span], label=name.replace("_", " "), linewidth=1.1)
    ax.set_xlabel("hour of the test period")
    ax.set_ylabel("gas consumption (m³/h)")
    ax.legend(ncol=3, loc="upper left", fontsize=7)
    return fig
