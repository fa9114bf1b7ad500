"""Every knob composes and trains; early stopping, label smoothing and clipping take effect."""

import os

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

from tests.conftest import CONF, compose_config
from tunelab.data.batches import TensorBatches
from tunelab.data.datamodule import build_datamodule
from tunelab.training.classifier import Classifier
from tunelab.training.pipeline import build_learner
from tunelab.training.trainer import build_trainer


def classifier_for(cfg) -> Classifier:
    datamodule = build_datamodule(cfg.data)
    return build_learner(cfg, datamodule.input_shape, datamodule.num_outputs)


OPTIMIZERS = sorted(p.stem for p in (CONF / "optimizer").glob("*.yaml"))
SCHEDULERS = sorted(p.stem for p in (CONF / "scheduler").glob("*.yaml"))
REGULARIZATIONS = sorted(p.stem for p in (CONF / "regularization").glob("*.yaml"))


def train_one_step(overrides: list[str]) -> Classifier:
    cfg = compose_config(
        [
            "model=mlp",
            "model.hidden_dim=16",
            "trainer.max_steps=1",
            "trainer.limit_val_batches=1",
            *overrides,
        ]
    )
    datamodule = build_datamodule(cfg.data)
    # The same weights whichever test ran before in this process: L-BFGS's line search can
    # take no step from an unlucky start at one-cycle's small first rate (seen once in a suite).
    torch.manual_seed(0)
    classifier = build_learner(cfg, datamodule.input_shape, datamodule.num_outputs)
    before = [p.detach().clone() for p in classifier.parameters()]
    trainer = build_trainer(cfg.trainer, callbacks=[], logger=False)
    trainer.fit(classifier, datamodule=datamodule)
    assert trainer.global_step == 1
    assert any(not torch.equal(b, p) for b, p in zip(before, classifier.parameters(), strict=True))
    return classifier


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_with_every_scheduler_trains_a_step(optimizer: str, scheduler: str) -> None:
    train_one_step([f"optimizer={optimizer}", f"scheduler={scheduler}"])


@pytest.mark.parametrize("regularization", REGULARIZATIONS)
def test_every_regularization_trains_a_step(regularization: str) -> None:
    classifier = train_one_step([f"regularization={regularization}"])
    assert (classifier.penalty is None) == (regularization == "none")


def test_dropout_reaches_every_network() -> None:
    for model in ("mlp", "cnn"):
        cfg = compose_config([f"model={model}", "regularization.dropout=0.3"])
        classifier = classifier_for(cfg)
        rates = [m.p for m in classifier.network.modules() if isinstance(m, nn.Dropout)]
        assert rates and all(r == 0.3 for r in rates), model


def test_width_and_depth_from_the_command_line() -> None:
    cfg = compose_config(["model=mlp", "model.hidden_dim=32", "model.num_layers=3"])
    net = classifier_for(cfg).network
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [32, 32, 32, 10]
    cfg = compose_config(["model.channels=[8,16,24]", "model.hidden_dim=20"])
    net = classifier_for(cfg).network
    convs = [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [8, 16, 24]


def test_label_smoothing_reaches_the_loss() -> None:
    cfg = compose_config(["regularization.label_smoothing=0.2"])
    datamodule = build_datamodule(cfg.data)
    classifier = build_learner(cfg, datamodule.input_shape, datamodule.num_outputs).eval()
    x, y = (t[:32] for t in datamodule.split("train"))
    loss = classifier.training_step((x, y), 0)
    logits = classifier(x)
    torch.testing.assert_close(loss, F.cross_entropy(logits, y, label_smoothing=0.2))
    assert not torch.isclose(loss, F.cross_entropy(logits, y))


class GradNormSGD(torch.optim.SGD):
    """Records the gradient norm it receives at each step, i.e. after any clipping."""

    norms: list[float] = []

    def step(self, closure=None):
        loss = closure() if closure else None
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        GradNormSGD.norms.append(
            torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item()
        )
        super().step()
        return loss


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_gradient_clipping_reaches_the_trainer(algorithm: str) -> None:
    cfg = compose_config(
        [
            "regularization.gradient_clip_val=0.01",
            f"regularization.gradient_clip_algorithm={algorithm}",
            "trainer.max_steps=3",
        ]
    )
    trainer = build_trainer(cfg.trainer, callbacks=[], logger=False)
    assert trainer.gradient_clip_val == 0.01 and trainer.gradient_clip_algorithm == algorithm
    torch.manual_seed(0)
    x, y = torch.randn(32, 20), torch.randint(0, 3, (32,))
    GradNormSGD.norms = []
    net = nn.Linear(20, 3)
    classifier = Classifier(
        net, 3, optimizer=lambda network: GradNormSGD(network.parameters(), lr=0.1)
    )
    trainer.fit(classifier, TensorBatches(x, y, 32), TensorBatches(x, y, 32))
    limit = 0.01 * (1 + 1e-4) if algorithm == "norm" else 0.01 * (3 * 20 + 3) ** 0.5
    assert GradNormSGD.norms and all(n <= limit for n in GradNormSGD.norms)


class ScriptedValidation(Classifier):
    """A classifier whose validation accuracy follows a given curve; keeps each epoch's weights."""

    def __init__(self, curve: list[float]) -> None:
        super().__init__(
            nn.Linear(4, 3), 3, optimizer=lambda n: torch.optim.SGD(n.parameters(), lr=0.1)
        )
        self.curve, self.snapshots = curve, {}

    def _epoch_values(self, stage: str):
        values = super()._epoch_values(stage)
        if stage == "val" and not self.trainer.testing:
            values["val/acc"] = torch.tensor(self.curve[self.current_epoch])
            self.snapshots[self.current_epoch] = self.network.weight.detach().clone()
        return values


def test_early_stopping_ends_at_the_expected_epoch_and_best_is_tested(tmp_path) -> None:
    curve = [0.5, 0.7, 0.9, 0.85, 0.88, 0.89, 0.95, 0.99]  # best at epoch 2, patience 3
    model = ScriptedValidation(curve)
    stopper = EarlyStopping(monitor="val/acc", mode="max", patience=3)
    checkpoint = ModelCheckpoint(
        tmp_path, filename="best", monitor="val/acc", mode="max", save_last=True
    )
    trainer = L.Trainer(
        max_epochs=len(curve),
        callbacks=[stopper, checkpoint],
        logger=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    trainer.fit(model, TensorBatches(x, y, 8, shuffle=True), TensorBatches(x, y, 8))
    assert stopper.stopped_epoch == 5  # epochs 3, 4, 5 without improvement
    assert sorted(model.snapshots) == [0, 1, 2, 3, 4, 5]
    assert torch.load(checkpoint.best_model_path, weights_only=True)["epoch"] == 2
    assert float(model.best.compute()) == pytest.approx(0.9)
    trainer.test(model, TensorBatches(x, y, 8), ckpt_path="best", verbose=False)
    torch.testing.assert_close(model.network.weight, model.snapshots[2])
    assert not torch.equal(model.network.weight, model.snapshots[5])


@pytest.mark.parametrize(
    "overrides, expected", [([], False), (["+trainer.inference_mode=true"], True)]
)
def test_a_compiled_network_is_evaluated_under_no_grad(overrides, expected) -> None:
    """compile=true: validation and test run under no_grad, so they share one compiled graph
    (inference tensors would need another); trainer.inference_mode set by hand still rules."""
    cfg = compose_config(["compile=true", *overrides])
    trainer = build_trainer(cfg.trainer, callbacks=[], logger=False, compiled=cfg.compile)
    assert trainer.test_loop.inference_mode is expected
    assert build_trainer(compose_config([]).trainer, [], False).test_loop.inference_mode


@pytest.mark.parametrize("gpus", [0, 1])
def test_without_a_gpu_cuda_checks_skip_nvml(gpus: int, monkeypatch) -> None:
    """Lightning's PYTORCH_NVML_BASED_CUDA_CHECK loads NVML at every optimizer step on a CUDA
    build of torch without a GPU; the trainer drops it there, and keeps it beside a GPU."""
    from tunelab.training.trainer import plain_cuda_checks

    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    plain_cuda_checks()
    assert ("PYTORCH_NVML_BASED_CUDA_CHECK" in os.environ) == bool(gpus)


def fit_with_bar(bar, rows: int, epochs: int, root) -> L.Trainer:
    """A linear classifier fitted on `rows` random rows in batches of 4, `bar` its only callback."""
    model = Classifier(nn.Linear(4, 3), 3, optimizer=lambda n: torch.optim.SGD(n.parameters()))
    trainer = L.Trainer(
        max_epochs=epochs,
        callbacks=[bar],
        logger=False,
        enable_checkpointing=False,
        default_root_dir=root,
    )
    x, y = torch.randn(rows, 4), torch.randint(0, 3, (rows,))
    trainer.fit(model, TensorBatches(x, y, 4), TensorBatches(x[:8], y[:8], 4))
    return trainer


def test_the_progress_bar_reads_only_when_it_redraws_and_ends_each_epoch_full(
    tmp_path, monkeypatch
) -> None:
    from lightning.pytorch.callbacks import RichProgressBar

    from tunelab.training.trainer import ThrottledProgressBar

    reads: list[int] = []
    read = RichProgressBar.on_train_batch_end
    monkeypatch.setattr(
        RichProgressBar,
        "on_train_batch_end",
        lambda self, *args: reads.append(args[-1]) or read(self, *args),
    )
    bar = ThrottledProgressBar(refresh_rate=1)  # a read a second: 2 epochs of 200 quick batches
    fit_with_bar(bar, rows=800, epochs=2, root=tmp_path)
    assert 4 <= len(reads) <= 10, reads  # each epoch's first and last batch, a few between
    assert reads.count(0) == 2 and reads.count(199) == 2
    (task,) = [t for t in bar.progress.tasks if t.id == bar.train_progress_bar_id]
    assert task.completed == task.total == 200


def test_a_disabled_progress_bar_reads_nothing(tmp_path) -> None:
    """A DDP rank other than 0 disables its bar; its validation totals are then never set."""
    from tunelab.training.trainer import ThrottledProgressBar

    bar = ThrottledProgressBar()
    bar.disable()
    trainer = fit_with_bar(bar, rows=16, epochs=1, root=tmp_path)
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    trainer.test(trainer.lightning_module, TensorBatches(x, y, 4), verbose=False)
    assert bar.progress is None  # never started


def test_the_progress_bar_stops_without_waiting_out_a_redraw_interval() -> None:
    """Lightning's drawing thread sleeps a whole redraw interval, and stopping the bar joins
    it; the bar's own thread wakes when told to stop, and still redraws when asked."""
    import threading

    from lightning.pytorch.callbacks.progress.rich_progress import CustomProgress

    from tunelab.training.trainer import WakingRefreshThread, wake_on_stop

    progress = CustomProgress(auto_refresh=True, refresh_per_second=0.001, disable=False)
    progress.start()  # Lightning's thread: asleep for 1,000 s
    lightnings = progress.live._refresh_thread
    wake_on_stop(progress)
    assert isinstance(progress.live._refresh_thread, WakingRefreshThread)
    assert lightnings.done.is_set()  # told to stop; it ends after its sleep, unjoined
    stopping = threading.Thread(target=progress.stop)
    stopping.start()
    stopping.join(timeout=30)
    assert not stopping.is_alive()  # with Lightning's thread this waits out its 1,000 s

    drawing = CustomProgress(auto_refresh=True, refresh_per_second=50, disable=False)
    drawing.start()
    wake_on_stop(drawing)
    drawn = threading.Event()
    drawing.live.refresh = drawn.set  # type: ignore[method-assign]
    drawing.soft_refresh()  # what the bar does when it has read new counts
    assert drawn.wait(timeout=30)
    drawing.stop()


def test_the_trainer_profiles_nothing_unless_asked() -> None:
    """trainer.profiler=null: the no-cost NoProfiler; a profiler asked for is Lightning's."""
    from lightning.pytorch.profilers import SimpleProfiler

    from tunelab.training.trainer import LearningRate, NoProfiler

    default = compose_config(["trainer.max_steps=2"])
    assert isinstance(build_trainer(default.trainer, [], logger=False).profiler, NoProfiler)

    cfg = compose_config(["trainer.max_steps=2", "trainer.limit_val_batches=1"])
    cfg.trainer.profiler = "simple"
    trainer = build_trainer(cfg.trainer, callbacks=[LearningRate()], logger=False)
    assert isinstance(trainer.profiler, SimpleProfiler)
    trainer.fit(classifier_for(cfg), datamodule=build_datamodule(cfg.data))
    recorded = trainer.profiler.recorded_durations
    assert len(recorded["[Callback]" + trainer.callbacks[0].state_key + ".on_train_batch_end"]) == 2


def test_the_checkpoint_callback_works_out_its_state_key_once(monkeypatch) -> None:
    """EpochCheckpoint keeps Lightning's key (checkpoints store its state under it), worked out
    once rather than at every hook Lightning calls."""
    from lightning.pytorch.callbacks import Callback

    from tunelab.training.trainer import EpochCheckpoint

    made = []
    generate = Callback._generate_state_key
    monkeypatch.setattr(
        Callback, "_generate_state_key", lambda self, **kw: made.append(1) or generate(self, **kw)
    )
    keeper = EpochCheckpoint(monitor="val/acc", mode="max")
    expected = ModelCheckpoint(monitor="val/acc", mode="max").state_key.replace(
        "ModelCheckpoint", "EpochCheckpoint", 1
    )
    made.clear()
    for _ in range(100):
        assert keeper.state_key == expected
    assert len(made) == 1


def test_the_checkpoint_decides_per_batch_only_when_it_saves_per_batch(
    tmp_path, monkeypatch
) -> None:
    """Saving at epoch ends, EpochCheckpoint skips Lightning's per-batch decision; with
    every_n_train_steps it still saves mid-epoch."""
    from tunelab.training.trainer import EpochCheckpoint

    decided = []
    lightnings = ModelCheckpoint.on_train_batch_end
    monkeypatch.setattr(
        ModelCheckpoint,
        "on_train_batch_end",
        lambda self, *args: decided.append(1) or lightnings(self, *args),
    )
    cfg = compose_config(["trainer.max_steps=4", "trainer.limit_val_batches=1"])
    data = build_datamodule(cfg.data)
    by_epoch = EpochCheckpoint(dirpath=tmp_path / "epochs", monitor="val/acc", mode="max")
    build_trainer(cfg.trainer, [by_epoch], logger=False).fit(classifier_for(cfg), datamodule=data)
    assert decided == []
    by_step = EpochCheckpoint(
        dirpath=tmp_path / "steps", every_n_train_steps=2, save_top_k=-1, filename="{step}"
    )
    build_trainer(cfg.trainer, [by_step], logger=False).fit(classifier_for(cfg), datamodule=data)
    assert len(decided) == 4
    assert {"step=2.ckpt", "step=4.ckpt"} <= {p.name for p in (tmp_path / "steps").iterdir()}
