"""sequences: the sentiment task's labels, the RNN's per-step outputs and many-to-one read-out;
the gas series, window alignment, and the faulty and correct forecasting pipelines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnbook import sequences


def test_sentiment_sums_words_and_not_flips_the_next_one():
    assert sequences.sentiment_score(["the", "film", "was", "good"]) == 1
    assert sequences.sentiment_score(["not", "good"]) == -1
    assert sequences.sentiment_score(["not", "terrible", "and", "fun"]) == 3
    assert sequences.sentiment_class(["excellent", "wonderful", "good"]) == 4  # clipped at +2
    assert sequences.sentiment_class(["the", "plot"]) == 2
    assert sequences.sentences(3, seed=1) == sequences.sentences(3, seed=1)


def test_encode_pads_on_the_left_so_the_last_step_is_the_last_word():
    x = sequences.encode(["the", "film", "was", "bad"], 6)
    assert x.tolist()[:2] == [0, 0] and x[-1] == sequences.VOCABULARY.index("bad")


@pytest.mark.parametrize("n", [3, 7])
def test_one_softmax_per_sentence_over_the_classes_with_a_state_per_word(n):
    model = sequences.SentimentRNN()
    words = sequences.sentences(1, (n, n), seed=2)[0]
    shapes = dict(zip(*sequences.shapes(model, words).T.values))
    assert shapes["states"] == f"1×{n}×32" and shapes["per_step_logits"] == f"1×{n}×5"
    assert shapes["softmax"] == "1×5"
    x = sequences.encode(words).unsqueeze(0)
    with torch.no_grad():
        assert torch.allclose(model(x), model.head(model.states(x))[:, -1])


def test_gas_series_is_seeded_and_colder_hours_use_more_gas():
    a, b = sequences.gas_series(60, seed=3), sequences.gas_series(60, seed=3)
    assert a.equals(b) and len(a) == 60 * 24
    assert np.corrcoef(a.temperature, a.consumption)[0, 1] < -0.5
    assert not a.equals(sequences.gas_series(60, seed=4))


def test_windows_end_at_the_hour_of_their_target():
    x = np.arange(30, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    y = np.arange(30, dtype=np.float32) + 100
    inputs, targets = sequences.windows(x, y, 5)
    assert inputs.shape == (26, 5, 2) and len(targets) == 26
    assert (inputs[:, -1, 0] + 100 == targets).all()


def test_yesterday_feature_is_the_consumption_24_hours_earlier():
    series = sequences.gas_series(10)
    x, y = sequences.gas_features(series)
    assert np.allclose(x[24:, 0], y[:-24])


def test_faulty_pipelines_score_negative_and_the_correct_one_beats_yesterday(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path))
    table, results = sequences.pipelines(sequences.gas_series(360), epochs=4)
    table = table.set_index("key")
    assert set(results) == set(sequences.FAULTS)
    for fault in ("not_inverted", "wrong_scaler", "unscaled_target"):
        assert table.loc[fault, "r2"] < 0, fault
    assert table.loc["correct", "r2"] > table.loc["yesterday", "r2"] > 0.5
    with pytest.raises(ValueError, match="unknown pipeline"):
        sequences.forecast(sequences.gas_series(30), "shuffled")


def test_figures_have_labelled_axes_and_legends():
    import matplotlib.pyplot as plt

    by_step = sequences.accuracy_by_step(sequences.SentimentRNN(), sequences.sentences(8, (5, 5)))
    fig = sequences.steps_figure(by_step)
    assert fig.axes[0].get_xlabel() and "5-word" in fig.axes[0].get_ylabel()
    hours = np.arange(200, dtype=float)
    results = {name: sequences.Forecast(name, hours, hours + 1, hours - 1, 0.0) for name in sequences.FAULTS}
    fig2 = sequences.forecast_figure(results, start=10, hours=48)
    ax = fig2.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and len(ax.get_legend().get_texts()) == len(sequences.FAULTS) + 2
    plt.close("all")
