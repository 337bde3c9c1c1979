"""In a worker process (host.py): an eigh or a mode plug-in, built from its spec's text, answering
contained.py's calls. What the plug-in raises is host.py's to answer; what it does to the process
(an exit, a crash, a hang) ends only this worker."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from svdgrad_cli.backends import wire
from svdgrad_cli.backends.eigh_backends import plugin_backend
from svdgrad_cli.backends.modes import PATHS, framework_paths, run_path
from svdgrad_cli.backends.plugins import parse_spec, spec_backend
from svdgrad_cli.backends.protocol import EIGH_PLUGIN, BackendFailure
from svdgrad_cli.errors import UsageError
from svdgrad_cli.numerics.eigh_losses import EighLoss, parse_eigh_loss


def eigh_loss_from_message(header: dict, arrays: dict[str, np.ndarray]) -> EighLoss:
    """The bound eigh loss contained.eigh_loss_message sent."""
    weights = {name.removeprefix("loss "): a for name, a in arrays.items() if name.startswith("loss ")}
    return replace(
        parse_eigh_loss(str(header["loss"])), arrays=weights, on_complex=bool(header["on_complex"])
    )


class HostedEigh:
    """An eigh plug-in (eigh_backends.plugin_backend of the spec)."""

    gives_factors = False
    spec = None

    def __init__(self, text: str) -> None:
        self.backend = plugin_backend(text)
        self.name, self.origin = self.backend.name, text

    def version(self) -> None:
        return None

    def respond(self, header: dict, arrays: dict[str, np.ndarray]) -> bytes:
        loss = eigh_loss_from_message(header, arrays)
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # 0/0 at ties: judged, not printed
            warnings.simplefilter("ignore")
            values, gradients, vectors = self.backend.compute(np.array(arrays["stack"]), loss)
        answer = {"values": values, "gradients": gradients, "vectors": vectors}
        return wire.encode({}, {key: np.asarray(a) for key, a in answer.items() if a is not None})


class HostedModes:
    """A framework spec's paths of --mode (modes.framework_paths with the plug-in's SVD)."""

    gives_factors = False

    def __init__(self, text: str) -> None:
        spec = parse_spec(text)
        if spec is None or spec.contract not in PATHS:
            raise UsageError(f"backend {text!r}: not a framework spec, which has no mode paths")
        self.spec, self.factors = spec, spec_backend(spec).factors
        self.name, self.origin = spec.name, text

    def version(self) -> None:
        return None

    def respond(self, header: dict, arrays: dict[str, np.ndarray]) -> bytes:
        loss = wire.loss_from_message(header, arrays)
        dtype, k = np.dtype(str(header["dtype"])), int(header["k"])
        paths = framework_paths(self.spec.contract, loss, str(header["mode"]), dtype, k, self.factors)
        if header["path"] is None:
            return wire.encode({"paths": list(paths)})
        try:
            value = run_path(paths[str(header["path"])], np.array(arrays["x"]), np.array(arrays["e"]))
        except BackendFailure as exc:
            return wire.encode({"error": "unsupported" if exc.unsupported else "failed", "message": str(exc)})
        # its shape said apart: the wire sends a 0-d array (a JVP) as of shape (1,)
        return wire.encode({"shape": list(value.shape)}, {"value": value})


def hosted_plugin(kind: str, text: str) -> HostedEigh | HostedModes:
    """The backend a worker of Recipe kind ``kind`` hosts."""
    return HostedEigh(text) if kind == EIGH_PLUGIN else HostedModes(text)
