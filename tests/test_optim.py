"""Penalties, weight decay and the parameters they cover do what their names say."""

import pytest
import torch
from torch import nn

from tests.conftest import compose_config
from tunelab.training.optim import build_optimizer, build_penalty, split_decay


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))


def weights(net: nn.Module) -> list[torch.Tensor]:
    return [net[0].weight, net[3].weight]


def test_bias_and_norm_are_left_out_when_so_configured() -> None:
    net = small_net()
    covered, left_out = split_decay(net, exclude_bias_and_norm=True)
    assert {id(p) for p in covered} == {id(p) for p in weights(net)}
    assert len(left_out) == 4  # two biases, the norm's weight and bias
    covered_all, none_left = split_decay(net, exclude_bias_and_norm=False)
    assert len(covered_all) == 6 and none_left == []


@pytest.mark.parametrize("exclude", [True, False])
@pytest.mark.parametrize(("l1", "l2"), [(0.01, 0.0), (0.0, 0.02), (0.01, 0.02)])
def test_penalty_value_and_gradient(l1: float, l2: float, exclude: bool) -> None:
    net = small_net()
    penalty = build_penalty(net, {"l1": l1, "l2": l2}, exclude_bias_and_norm=exclude)
    params = weights(net) if exclude else list(net.parameters())
    expected = l1 * sum(p.abs().sum() for p in params) + l2 * sum(p.pow(2).sum() for p in params)
    value = penalty()
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)

    value.backward()
    covered = {id(p) for p in params}
    for p in net.parameters():
        want = l1 * p.sign() + 2 * l2 * p if id(p) in covered else torch.zeros_like(p)
        got = p.grad if p.grad is not None else torch.zeros_like(p)
        torch.testing.assert_close(got, want.detach())


def test_no_penalty_when_zero_or_none() -> None:
    net = small_net()
    assert build_penalty(net, None, True) is None
    assert build_penalty(net, {"l1": 0.0, "l2": 0.0}, True) is None


def one_step_with_zero_loss(choice: str, lr: float, decay: float, exclude: bool) -> nn.Module:
    cfg = compose_config(
        [f"optimizer={choice}", f"optimizer.lr={lr}", f"optimizer.weight_decay={decay}"]
    )
    net = small_net()
    optimizer = build_optimizer(cfg.optimizer, exclude)(net)
    loss = sum(0.0 * p.sum() for p in net.parameters())  # zero gradient: only decay moves weights
    loss.backward()
    optimizer.step()
    return net


@pytest.mark.parametrize("choice", ["adamw", "sgd"])
def test_weight_decay_shrinks_weights_through_the_optimizer(choice: str) -> None:
    lr, decay = 0.1, 0.5
    before = small_net()
    after = one_step_with_zero_loss(choice, lr, decay, exclude=True)
    for p0, p1 in zip(weights(before), weights(after), strict=True):
        # adamw: p - lr*wd*p (decoupled); sgd: grad += wd*p, then p - lr*grad
        torch.testing.assert_close(p1.detach(), p0.detach() * (1 - lr * decay))
    torch.testing.assert_close(after[0].bias.detach(), before[0].bias.detach())  # left out


def test_adamw_has_no_penalty_term_in_the_loss() -> None:
    from tunelab.data.datamodule import build_datamodule
    from tunelab.training.pipeline import build_learner

    cfg = compose_config(["optimizer=adamw"])
    datamodule = build_datamodule(cfg.data)
    classifier = build_learner(cfg, datamodule.input_shape, datamodule.num_outputs)
    x, y = (t[:16] for t in datamodule.split("train"))
    classifier.eval()  # fixed batch-norm statistics, so both losses see the same network
    loss = classifier.training_step((x, y), 0)
    assert classifier.penalty is None
    torch.testing.assert_close(loss, nn.functional.cross_entropy(classifier(x), y))
    optimizer = classifier.optimizer_factory(classifier.network)
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["weight_decay"] == 0.01
