import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset

from minivit.data import digit_canvas, digits
from minivit.models.toy_models import SmallCNN
from minivit.train import History, OutputLine, count_parameters, evaluate, fit, progress_file, seed_everything

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.versions]  # training: torch's numerics


@pytest.fixture(scope="module")
def loaders():
    train, test = digits("train", size=16), digits("test", size=16)
    return DataLoader(train, batch_size=32, shuffle=True), DataLoader(test, batch_size=180)


def run(loaders, seed=0, **kwargs):
    seed_everything(seed)
    model = SmallCNN(1, 10, widths=(8, 16))
    options = dict(epochs=3, lr=1e-2, weight_decay=0.05, seed=seed, progress=False) | kwargs
    return model, fit(model, *loaders, **options)


@pytest.fixture(scope="module")
def first_run(loaders):
    return run(loaders)


def test_loss_falls_and_accuracy_rises(first_run):
    _, history = first_run
    assert isinstance(history, History)
    assert len(history.train_loss) == len(history.eval_accuracy) == len(history.seconds) == 3
    # measured: loss 2.01 -> 1.25, test accuracy 0.34 -> 0.83 (seeds 1, 2: 0.78, 0.88)
    assert history.train_loss[-1] < 0.75 * history.train_loss[0]
    assert history.eval_accuracy[-1] > 0.5  # 10 classes: chance is 0.1
    assert all(0 <= a <= 1 for a in history.train_accuracy + history.eval_accuracy)
    assert all(s > 0 for s in history.seconds)
    assert str(history).splitlines()[0].split() == ["epoch", "train", "loss", "train", "acc", "eval", "acc", "seconds"]


def test_same_seed_repeats_exactly(loaders, first_run):
    model_a, a = first_run
    model_b, b = run(loaders)
    assert a.train_loss == b.train_loss and a.eval_accuracy == b.eval_accuracy
    assert all(torch.equal(p, q) for p, q in zip(model_a.state_dict().values(), model_b.state_dict().values()))
    _, c = run(loaders, seed=1)
    assert c.train_loss != a.train_loss


def test_label_smoothing_raises_the_loss_floor(loaders, first_run):
    # with smoothing the best possible loss is above 0, so the same run ends with a higher loss
    _, plain = first_run
    _, smooth = run(loaders, label_smoothing=0.2)
    assert smooth.train_loss[-1] > plain.train_loss[-1]


def test_without_eval_loader_and_with_progress_bar(loaders, capsys):
    seed_everything(0)
    small = DataLoader(Subset(loaders[0].dataset, range(320)), batch_size=32)
    history = fit(SmallCNN(1, 10, (8,)), small, epochs=1, progress=True)
    assert history.eval_accuracy == [] and len(history.train_loss) == 1
    assert "10/10" in capsys.readouterr().err  # tqdm draws on stderr: 10 batches of 32
    assert "-" in str(history).splitlines()[1]


def test_progress_bar_names_the_accuracy_on_the_loader_given_eval_acc(loaders, capsys):
    # the loader given to fit may hold test or validation data: the bar says neither
    seed_everything(0)
    small = DataLoader(Subset(loaders[0].dataset, range(64)), batch_size=32)
    history = fit(SmallCNN(1, 10, (8,)), small, small, epochs=1, progress=True)
    err = capsys.readouterr().err
    assert f"eval acc={history.eval_accuracy[0]:.3f}" in err and "test acc" not in err


def test_multi_label_on_canvases():
    # canvases yield (image, multi-hot labels, mask); fit uses the first two and ignores the mask
    canvas = digit_canvas("train", num_samples=64, canvas_size=32, digit_size=16)
    loader = DataLoader(canvas, batch_size=16, shuffle=True)
    seed_everything(0)
    history = fit(SmallCNN(1, 10, (8, 16)), loader, loader, epochs=3, lr=3e-3, multi_label=True, progress=False)
    assert history.train_loss[-1] < history.train_loss[0]
    with pytest.raises(ValueError, match="label_smoothing applies to cross-entropy only"):
        fit(SmallCNN(), loader, multi_label=True, label_smoothing=0.1)


def test_evaluate_hand_worked():
    # nn.Identity returns its input, so the "inputs" are the logits themselves
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [4.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 2])  # right, right, wrong, wrong
    assert evaluate(nn.Identity(), [(logits, labels)]) == 0.5
    assert evaluate(nn.Identity(), [(logits[:2], labels[:2]), (logits[2:], labels[2:])]) == 0.5
    # multi-label: right only when every class is right (logit > 0 means present)
    multi = torch.tensor([[1.0, -1.0], [1.0, 1.0], [-1.0, -1.0]])
    hot = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])  # right, wrong (extra class), right
    assert evaluate(nn.Identity(), [(multi, hot)], multi_label=True) == pytest.approx(2 / 3)
    # per pixel: logits (B, K, H, W) against masks (B, H, W)
    pixel_logits = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])  # (1, 2, 1, 2): predicts classes 0, 1
    assert evaluate(nn.Identity(), [(pixel_logits, torch.tensor([[[0, 0]]]))]) == 0.5


def test_evaluate_restores_the_mode(loaders):
    model = SmallCNN(1, 10, (8,))
    model.train()
    evaluate(model, loaders[1])
    assert model.training
    model.eval()
    evaluate(model, loaders[1])
    assert not model.training


def test_count_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))  # 3*4 + 4 + 4*2 + 2 = 26
    assert count_parameters(model) == 26
    model[0].requires_grad_(False)
    assert count_parameters(model) == 26 and count_parameters(model, trainable_only=True) == 10
    # SmallCNN(1, 10, (8,)): conv 1*8*9 (no bias), BatchNorm 2*8, Linear 8*10 + 10
    assert count_parameters(SmallCNN(1, 10, (8,))) == 72 + 16 + 90


class _Bias(nn.Module):
    """Logits that ignore the input: one learned score per class, the same for every example."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x):
        return self.bias.expand(len(x), -1)


def test_class_weights_weigh_each_class_in_the_cross_entropy():
    # half the targets are class 0, half class 1: unweighted, the best constant scores are equal (loss ln 2 at
    # the start); a weight of 0 on a class removes its examples from the loss, so the other class wins
    loader = DataLoader(TensorDataset(torch.zeros(8, 1), torch.tensor([0, 1] * 4)), batch_size=8)
    plain_model = _Bias(2)
    plain = fit(plain_model, loader, epochs=1, lr=0.1, weight_decay=0.0, progress=False)
    assert plain.train_loss[0] == pytest.approx(math.log(2))
    for ignored in (0, 1):
        model = _Bias(2)
        weights = torch.ones(2)
        weights[ignored] = 0.0
        fit(model, loader, epochs=5, lr=0.1, weight_decay=0.0, class_weights=weights, progress=False)
        assert model.bias[1 - ignored] > model.bias[ignored]
    with pytest.raises(ValueError, match="class_weights applies to cross-entropy only"):
        fit(_Bias(2), loader, multi_label=True, class_weights=torch.ones(2))


def test_progress_bar_in_a_notebook_is_one_line_replaced_in_place(monkeypatch):
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(obj.data)

    monkeypatch.setattr("IPython.display.display", lambda obj, display_id: Handle())
    line = OutputLine()
    for text in ("\r  0%|   | 0/2", "\r 50%|#  | 1/2", "\r100%|###| 2/2", "\n"):
        line.write(text)
    line.flush()
    assert shown == ["  0%|   | 0/2", " 50%|#  | 1/2", "100%|###| 2/2"]  # the last is what a saved notebook keeps
    assert progress_file() is None  # not in a Jupyter kernel: tqdm writes to stderr


def test_warmup_raises_the_rate_then_the_cosine_takes_the_rest(loaders):
    # the learning rate actually used at each step, read off the optimizer through a hook on the model
    seed_everything(0)
    model = SmallCNN(1, 10, widths=(8,))
    small = DataLoader(Subset(loaders[0].dataset, range(128)), batch_size=32)  # 4 steps an epoch
    seen = []
    original = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.AdamW.step = step
    try:
        fit(model, small, epochs=2, lr=1.0, warmup_steps=4, progress=False)
    finally:
        torch.optim.AdamW.step = original
    assert seen[:5] == pytest.approx([0.25, 0.4375, 0.625, 0.8125, 1.0])  # linear from lr / 4 to lr, then the cosine
    assert seen[5:] == pytest.approx([0.5 * (1 + math.cos(math.pi * k / 4)) for k in (1, 2, 3)])
    with pytest.raises(ValueError, match="warmup_steps must be in"):
        fit(model, small, epochs=1, warmup_steps=4, progress=False)


def test_no_weight_decay_exempts_the_parameters_it_picks(loaders):
    # with a zero gradient, AdamW changes a parameter only through its weight decay
    seed_everything(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16, 10))
    for p in model.parameters():
        p.register_hook(torch.zeros_like)  # every gradient 0
    before = [p.detach().clone() for p in model.parameters()]
    small = DataLoader(Subset(loaders[0].dataset, range(32)), batch_size=32)
    fit(model, small, epochs=1, lr=0.1, weight_decay=0.5, no_weight_decay=lambda name, p: p.ndim == 1, progress=False)
    weight, bias = model.parameters()
    assert torch.allclose(weight, before[0] * (1 - 0.1 * 0.5))  # decayed
    assert torch.equal(bias, before[1])  # exempt
