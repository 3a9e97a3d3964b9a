import math

import pytest
import torch

from kanlab import KAN, InputError, fit
from kanlab.data import Dataset, make_toy_dataset
from kanlab.training.loop import grid_schedule_steps


@pytest.fixture(scope="module")
def data():
    return make_toy_dataset("exp_sin_sq", n_train=400, n_test=400, seed=0, dtype=torch.float64)


def _model(widths=(2, 1, 1), grid_size=5, **kw):
    return KAN(list(widths), grid_size=grid_size, seed=0, dtype=torch.float64, **kw)


def test_lbfgs_fits_the_toy_function(data):
    model = _model()
    hist = fit(model, data, steps=30, progress=False)
    assert len(hist.step) == 30 and hist.step[-1] == 30
    assert hist.train_rmse[-1] < 0.05 * hist.train_rmse[0]
    assert hist.test_rmse[-1] < 0.05
    assert all(t2 >= t1 for t1, t2 in zip(hist.wall_time, hist.wall_time[1:]))


def test_grid_schedule_refines_and_keeps_training(data):
    model = _model(grid_size=3)
    hist = fit(model, data, steps=60, grid_schedule=[3, 5, 10], progress=False)
    assert model.grid_size == [10, 10]
    assert [g[0] for g in hist.grid_size[:20]] == [3] * 20
    assert [g[0] for g in hist.grid_size[20:40]] == [5] * 20
    assert [g[0] for g in hist.grid_size[40:]] == [10] * 20
    assert ("refine to G=5" in [e for _, e in hist.events]) and (20, "refine to G=10") not in [
        e for e in hist.events
    ]
    assert (40, "refine to G=10") in hist.events
    by_grid = hist.final_by_grid()
    assert by_grid[10]["test_rmse"] < by_grid[3]["test_rmse"] / 5
    # grid updates only before the first refinement, every 5 steps
    updates = [s for s, e in hist.events if e == "update grid"]
    assert updates == [0, 5, 10, 15]


def test_grid_schedule_steps_normalises():
    assert grid_schedule_steps([3, 5, 10], 600) == [(0, 3), (200, 5), (400, 10)]
    assert grid_schedule_steps({100: 10, 0: 5}, 300) == [(0, 5), (100, 10)]
    with pytest.raises(InputError, match="outside"):
        grid_schedule_steps({500: 10}, 300)


def test_pykan_dict_and_dataloader(data):
    model = _model()
    hist = fit(model, data.to_dict(), steps=3, progress=False)
    assert math.isfinite(hist.test_rmse[-1])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data.train_input, data.train_label), batch_size=50
    )
    model = _model()
    hist = fit(model, loader, opt="adam", steps=10, progress=False, update_grid=False)
    assert len(hist.loss) == 10 and math.isnan(hist.test_rmse[-1])


def test_minibatches_walk_every_sample_each_epoch(data):
    seen = []
    model = _model()
    original = model.forward

    def spy(x):
        if torch.is_grad_enabled():
            seen.append(x.detach().clone())
        return original(x)

    model.forward = spy
    n = data.train_input.shape[0]
    fit(model, data, opt="adam", steps=n // 64 + 1, batch_size=64, update_grid=False,
        progress=False)
    rows = torch.cat(seen)
    assert rows.shape[0] == n
    assert torch.equal(torch.sort(rows[:, 0]).values, torch.sort(data.train_input[:, 0]).values)


def test_adam_and_global_rng_untouched(data):
    state = torch.get_rng_state()
    model = _model()
    hist = fit(model, data, opt="adam", lr=1e-2, steps=40, batch_size=100, progress=False)
    assert hist.train_rmse[-1] < hist.train_rmse[0]
    assert torch.equal(torch.get_rng_state(), state)


def test_callback_can_stop(data):
    model = _model()
    hist = fit(model, data, steps=50, progress=False, callbacks=[lambda s: s.step >= 4])
    assert hist.step[-1] == 4


def test_labels_of_shape_n_against_n1_outputs(data):
    bad = Dataset(data.train_input, data.train_label[:, 0])
    with pytest.raises(InputError, match=r"reshape the labels"):
        fit(_model(), bad, steps=1, progress=False)


def test_nan_in_inputs_or_labels(data):
    x = data.train_input.clone()
    x[3, 1] = float("nan")
    with pytest.raises(InputError, match="train_input contains 1 NaN"):
        fit(_model(), Dataset(x, data.train_label), steps=1, progress=False)
    y = data.train_label.clone()
    y[5, 0] = float("inf")
    with pytest.raises(InputError, match="train_label contains"):
        fit(_model(), Dataset(data.train_input, y), steps=1, progress=False)


def test_wrong_widths_and_unknown_optimizer(data):
    with pytest.raises(InputError, match=r"expected \(N, 3\)"):
        fit(_model((3, 1)), data, steps=1, progress=False)
    with pytest.raises(InputError, match="did you mean 'adam'"):
        fit(_model(), data, opt="adan", steps=1, progress=False)


def test_too_few_samples_for_a_grid_update():
    small = Dataset(torch.rand(8, 2, dtype=torch.float64), torch.rand(8, 1, dtype=torch.float64))
    with pytest.raises(InputError, match="needs at least 21 samples"):
        fit(_model(grid_size=20), small, steps=1, progress=False)


def test_model_fit_shortcut(data):
    model = _model()
    hist = model.fit(data, steps=2, progress=False)
    assert len(hist.step) == 2


def test_classification_with_integer_labels():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(300, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = (x[:, 0] * x[:, 1] > 0).long()
    model = KAN([2, 4, 2], seed=0, dtype=torch.float64)
    hist = fit(model, Dataset(x, y), steps=20, loss_fn=torch.nn.functional.cross_entropy,
               progress=False)
    accuracy = (model(x).argmax(1) == y).double().mean()
    assert hist.loss[-1] < hist.loss[0] and accuracy > 0.9


def test_minibatch_history_is_recorded_once_per_epoch(data):
    model = _model()
    hist = fit(model, data, opt="adam", steps=12, batch_size=100, progress=False)
    assert hist.step == [4, 8, 12]  # 400 samples / 100 per batch = 4 steps per epoch
