"""Start a network from trained weights instead of random ones (init_from=).

The source is an earlier tunelab run (its id), a checkpoint file (tunelab's or any Lightning
checkpoint), a plain PyTorch state dict (.pt, .pth), a registered model (models:/NAME@ALIAS),
or torchvision's published weights for model=torchvision (torchvision:IMAGENET1K_V1). Tensors
are matched by name and shape: what matches is loaded, a first convolution whose input channels
differ is adapted (1 <-> 3 channels, the standard way), and everything else keeps its fresh
initialisation (a head for another number of classes; a source that predicted other classes
gets a new output layer too). A tunelab checkpoint also brings the input
statistics its weights were trained with, and torchvision weights bring ImageNet's: the data
is then standardised with those (recorded in the new checkpoint, so evaluation and export
apply them too).

Lightning's own `ckpt_path` resumes a whole training state and needs the same network; this
loads weights only, into a network that may differ.
"""

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tunelab.errors import UserError

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
TORCHVISION = "torchvision:"


@dataclass
class StartingWeights:
    """What init_from names, read: the network's tensors by name, and the input statistics
    they were trained with when the source says (None: standardise with the data's own)."""

    source: str
    tensors: dict[str, torch.Tensor]
    normalize: dict[str, list] | None = None
    outputs: list[str] | None = None  # a tunelab checkpoint's classes (or targets), in order


@dataclass
class InitReport:
    """What happened to each tensor of the network, and the source's tensors left unused."""

    source: str
    loaded: list[str] = field(default_factory=list)
    adapted: list[str] = field(
        default_factory=list
    )  # a first convolution's input channels: summed, or repeated / 3
    reinitialised: list[str] = field(default_factory=list)  # absent from the source, or reshaped
    skipped: list[str] = field(default_factory=list)  # in the source, not in this network
    normalize: str = "data"  # whose input statistics the run standardises with

    def line(self) -> str:
        adapted = f", {len(self.adapted)} adapted to the input channels" if self.adapted else ""
        fresh = f" ({', '.join(self.reinitialised[:4])}{', ...' if len(self.reinitialised) > 4 else ''})"
        return (
            f"init_from {self.source}: {len(self.loaded) + len(self.adapted)} tensors loaded"
            f"{adapted}; {len(self.reinitialised)} started new"
            f"{fresh if self.reinitialised else ''}; {len(self.skipped)} of the source's unused; "
            f"inputs standardised with the {self.normalize}'s statistics"
        )

    def tags(self) -> dict[str, str]:
        return {
            "init_from": self.source,
            "init.loaded": str(len(self.loaded) + len(self.adapted)),
            "init.reinitialised": str(len(self.reinitialised)),
            "init.skipped": str(len(self.skipped)),
            "init.normalize": self.normalize,
        }

    def record(self) -> dict[str, Any]:
        return asdict(self)


def read_starting_weights(
    init_from: str, tracking_uri: str, folder: Path, cfg_model: Any
) -> StartingWeights:
    """The tensors init_from names; a run or registered model is fetched into `folder`."""
    if init_from.startswith(TORCHVISION):
        return torchvision_weights(init_from.removeprefix(TORCHVISION), cfg_model)
    if RUN_ID.match(init_from) or init_from.startswith(("models:/", "runs:/")):
        return read_file(fetch_checkpoint(init_from, tracking_uri, folder), init_from)
    if not Path(init_from).is_file():
        raise UserError(
            f"init_from={init_from}: not a run id, a models:/NAME@ALIAS URI, a checkpoint or "
            "state-dict file, or torchvision:WEIGHTS; name one of those"
        )
    return read_file(Path(init_from), init_from)


def fetch_checkpoint(init_from: str, tracking_uri: str, folder: Path) -> Path:
    """The checkpoint of a run (its logged model, or its best checkpoint) or registered model."""
    from mlflow import MlflowClient

    from tunelab.tracking.registry import download_checkpoint, quiet_model_logging

    run_id = init_from if RUN_ID.match(init_from) else None
    model_uri = None if run_id else init_from
    try:
        with quiet_model_logging():  # no download progress bars on the run's console
            found = download_checkpoint(MlflowClient(tracking_uri), None, run_id, model_uri, folder)
    except UserError as error:  # its message names run_id= or model_uri=: say init_from=
        raise UserError(f"init_from={init_from}: {str(error).split(': ', 1)[-1]}") from None
    return Path(found)


def read_file(path: Path, source: str) -> StartingWeights:
    """A tunelab or Lightning checkpoint, or a plain state dict."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # not a PyTorch file, damaged, or it holds objects
        raise UserError(
            f"init_from={source}: cannot read {path} as PyTorch weights ({type(error).__name__}): "
            "name a checkpoint (.ckpt) or a state dict saved with torch.save (.pt)"
        ) from None
    if not isinstance(content, dict):
        raise UserError(f"init_from={source}: {path} holds no state dict")
    normalize = None
    tensors = content.get("state_dict", content)
    outputs = None
    if "tunelab" in content:  # the network is the Learner's `network`; the rest is its own
        metadata = content["tunelab"]
        normalize = metadata.get("normalize")
        outputs = list(metadata.get("targets") or metadata.get("classes") or []) or None
        tensors = {k: v for k, v in tensors.items() if k.startswith("network.")}
    prefixes = ("network.", "model.", "module.")
    for prefix in prefixes:  # the LightningModule's (or DDP's) attribute around the network
        if tensors and all(k.startswith(prefix) for k in tensors):
            tensors = {k.removeprefix(prefix): v for k, v in tensors.items()}
    tensors = {k.removeprefix("network."): v for k, v in tensors.items() if torch.is_tensor(v)}
    return StartingWeights(source, tensors, normalize, outputs)


def torchvision_weights(name: str, cfg_model: Any) -> StartingWeights:
    """torchvision's published weights for model=torchvision's architecture (downloaded into
    torch's cache the first time), with the input statistics they were trained with."""
    from torchvision.models import get_model_weights

    target = str(cfg_model.get("_target_", ""))
    if not target.endswith("TorchvisionNet"):
        raise UserError(
            f"init_from=torchvision:{name}: torchvision's weights are for model=torchvision "
            f"(model.arch=resnet18, ...); model {target.rsplit('.', 1)[-1]} has none"
        )
    arch = cfg_model["arch"]
    try:
        weights = get_model_weights(arch)[name]
    except KeyError:
        known = ", ".join(w.name for w in get_model_weights(arch))
        raise UserError(f"init_from=torchvision:{name}: {arch} has {known}") from None
    try:
        state = weights.get_state_dict(progress=False)
    except OSError as error:  # no network, a refused host
        raise UserError(
            f"init_from=torchvision:{name}: downloading {arch}'s weights failed ({error}); run "
            "once where the network is open (they stay in torch's cache, ~/.cache/torch)"
        ) from None
    transform = weights.transforms()
    stats = {"mean": list(transform.mean), "std": list(transform.std)}
    return StartingWeights(f"torchvision:{name}", {f"body.{k}": v for k, v in state.items()}, stats)


def load_matching(
    network: nn.Module, start: StartingWeights, outputs: list[str] | None = None
) -> InitReport:
    """Copy the source's tensors into `network` where names and shapes match (or a first
    convolution's input channels can be adapted); the rest keep their initialisation. When
    the source predicted other `outputs` (classes or targets) than this network, its output
    layer starts new even where the shapes agree: its weights would answer for the wrong ones."""
    report = InitReport(start.source)
    own = network.state_dict()
    other_outputs = start.outputs is not None and outputs is not None and start.outputs != outputs
    head = output_layer(network) if other_outputs else ""
    chosen: dict[str, torch.Tensor] = {}
    for name, tensor in own.items():
        theirs = start.tensors.get(name)
        if theirs is None or (head and name.rpartition(".")[0] == head):
            report.reinitialised.append(name)
        elif theirs.shape == tensor.shape:
            chosen[name] = theirs
            report.loaded.append(name)
        elif (adapted := adapt_channels(theirs, tensor.shape)) is not None:
            chosen[name] = adapted
            report.adapted.append(name)
        else:
            report.reinitialised.append(name)
    report.skipped = [name for name in start.tensors if name not in own]
    if not chosen:
        raise UserError(
            f"init_from={start.source}: none of its {len(start.tensors)} tensors fit this "
            f"network (it holds {example(start.tensors)}; this network: {example(own)}): "
            "start from a run of the same model=, or one whose layers share names"
        )
    network.load_state_dict(chosen, strict=False)
    return report


def output_layer(network: nn.Module) -> str:
    """The name of the network's last linear layer: the one that gives its outputs."""
    linears = [name for name, module in network.named_modules() if isinstance(module, nn.Linear)]
    return linears[-1] if linears else ""


def adapt_channels(weight: torch.Tensor, shape: torch.Size) -> torch.Tensor | None:
    """A convolution's weight [out, in, ...] for another number of input channels: from RGB to
    one channel, their sum (a grey image's response equals the colour one's); from one to RGB,
    repeated and divided by 3. None when the shapes differ otherwise."""
    if weight.dim() != 4 or weight.shape[0] != shape[0] or weight.shape[2:] != shape[2:]:
        return None
    have, want = weight.shape[1], shape[1]
    if have == 3 and want == 1:
        return weight.sum(dim=1, keepdim=True)
    if have == 1 and want == 3:
        return weight.repeat(1, 3, 1, 1) / 3
    return None


def example(tensors: dict[str, torch.Tensor]) -> str:
    names = list(tensors)[:2]
    return ", ".join(f"{n} {list(tensors[n].shape)}" for n in names) + (
        ", ..." if len(tensors) > 2 else ""
    )


def start_network(
    network: nn.Module,
    start: StartingWeights | None,
    standardized_as_source: bool,
    outputs: list[str],
) -> InitReport | None:
    """`network`, predicting `outputs`, from the weights init_from read (None: nothing to
    do); the report says whose input statistics the data is standardised with."""
    if start is None:
        return None
    report = load_matching(network, start, outputs)
    report.normalize = "source" if standardized_as_source else "data"
    return report
