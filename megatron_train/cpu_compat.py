"""Run megatron-core 0.16 on a machine without a GPU (gloo process groups, CPU tensors).

megatron-core assumes CUDA in a handful of places. The training loop enters :func:`enabled` only when
``torch.cuda.is_available()`` is False, and every patch below changes only calls that would otherwise raise
"Found no NVIDIA driver" there; on a GPU nothing here runs. Leaving the context restores everything.

Patches (found by running the real GPTModel + DistributedDataParallel + DistributedOptimizer +
forward_backward + dist_checkpointing path on CPU and fixing each failure, nothing speculative):

1. ``tensor_parallel.random.CudaRNGStatesTracker`` → :class:`CpuRNGStatesTracker`. The tracker keeps the
   named RNG streams (data-parallel, tensor-model-parallel, expert) that megatron forks for weight init and
   dropout; its ``add``/``fork`` read and write the CUDA generator (``torch.cuda.get_rng_state``). The CPU
   tracker keeps the same named streams on the CPU generator, so ``model_parallel_cuda_manual_seed`` and every
   ``get_cuda_rng_tracker().fork()`` work unchanged (``initialize_rng_tracker`` looks the class up by name).
2. ``tensor_parallel.random._get_cuda_rng_state`` / ``_set_cuda_rng_state`` → the CPU generator's state:
   activation recompute (``CheckpointFunction``) saves and restores "the CUDA RNG state" with them.
3. ``torch.cuda.current_device()`` → ``torch.device("cpu")``: megatron allocates its grad buffers, optimizer
   shards, RoPE frequencies and checkpoint exchange buffers on ``torch.cuda.current_device()``.
4. :class:`CudaAsCpu`, a ``TorchFunctionMode`` active inside the context:
   - a ``device="cuda"`` (or ``cuda:N`` / an int index) argument of a tensor factory or ``Tensor.to`` means
     CPU: the optimizer's found-inf/overflow buffers, grad-norm accumulators, the default causal mask and the
     pipeline schedules' token counters are created with ``device="cuda"`` literals;
   - ``Tensor.cuda()`` returns the tensor itself;
   - ``Tensor.type()`` (no arguments) reports ``torch.cuda.FloatTensor`` etc. for a CPU tensor: the
     (distributed) optimizer sorts parameters into fp32 / fp16 / bf16 groups by comparing these legacy type
     strings and raises TypeError for anything else, and ``clip_grads`` asserts on them.

5. ``CheckpointFunction.backward`` and ``CheckpointWithoutOutputFunction.backward`` (activation recompute) run
   inside a fresh :class:`CudaAsCpu`: they re-run forward code (the causal-mask ``device="cuda"`` literal
   included) from within ``torch.autograd.backward``, and a mode is switched off while its own handler runs.
6. ``torch.cuda.synchronize()`` → no-op: dist_checkpointing's writer synchronizes after its (here CPU → CPU)
   copies; with no GPU there is no pending device work.
7. ``transformer.moe.moe_utils.te_general_gemm`` → ``None`` when Transformer Engine is not installed: the MoE
   router's gating linear tests ``te_general_gemm is not None`` to choose torch's matmul, but megatron-core 0.16
   only binds the name inside its ``try: import transformer_engine``, so without TE the test raises NameError.

MoE on CPU also needs the ``allgather`` token dispatcher (``alltoall`` creates a CUDA stream when built);
megatron_train.model picks it when ``moe.token_dispatcher`` is ``auto``. Sliding-window attention needs no patch:
megatron-core's local ``DotProductAttention`` passes ``window_size`` to ``FusedScaleMaskSoftmax``, whose unfused
path (the only one on CPU) builds the sliding-window causal mask (``get_sliding_window_causal_mask``, whose
``device="cuda"`` literal item 4 turns into CPU); tests/megatron_train/test_k_exaone.py checks it.

What is not patched, because the CPU path does not reach it: CUDA streams (``overlap_grad_reduce`` and
``overlap_param_gather`` must stay off), CUDA graphs, ``torch.cuda.synchronize`` in DDP's buffer
free/allocate, fused kernels (``*_fusion`` options stay off; ``jit_fuser`` is ``torch.compile``), Transformer
Engine (the local layer spec is used), and the local attention's lack of context parallelism.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["CpuRNGStatesTracker", "CudaAsCpu", "enabled", "needed"]


def needed() -> bool:
    """True when there is no usable GPU, i.e. when :func:`enabled` should be entered."""
    return not torch.cuda.is_available()


def _is_cuda(device) -> bool:
    if isinstance(device, torch.device):
        return device.type == "cuda"
    if isinstance(device, str):
        return device.startswith("cuda")
    return isinstance(device, int) and not isinstance(device, bool)  # a bare index means a CUDA device


class CudaAsCpu(TorchFunctionMode):
    """Treat CUDA device arguments as CPU, ``Tensor.cuda()`` as a no-op, and report CPU tensors' legacy type
    strings as their ``torch.cuda.*`` names (see the module docstring, item 4)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if "device" in kwargs and _is_cuda(kwargs["device"]):
            kwargs = {**kwargs, "device": "cpu"}
        if func is torch.Tensor.cuda:
            return args[0]
        if func is torch.Tensor.to and len(args) > 1 and _is_cuda(args[1]):
            args = (args[0], "cpu", *args[2:])
        if func is torch.Tensor.type and len(args) == 1 and not kwargs:
            name = func(*args)
            if args[0].device.type == "cpu" and not name.startswith("torch.cuda."):
                return name.replace("torch.", "torch.cuda.", 1)
            return name
        return func(*args, **kwargs)


def _cpu_tracker_class(base: type) -> type:
    """A subclass of megatron's CudaRNGStatesTracker whose named streams live on the CPU generator."""

    class CpuRNGStatesTracker(base):  # type: ignore[misc, valid-type]
        """megatron's RNG tracker with its streams on the CPU generator (module docstring, item 1)."""

        def add(self, name, seed):
            self._is_initialized = True
            if seed in self.seeds_:
                raise Exception(f"seed {seed} already exists")
            self.seeds_.add(seed)
            if name in self.states_:
                raise Exception(f"rng state {name} already exists")
            orig = torch.get_rng_state()
            torch.manual_seed(seed)
            self.states_[name] = torch.get_rng_state()
            torch.set_rng_state(orig)

        @contextlib.contextmanager
        def fork(self, name="model-parallel-rng"):
            if name not in self.states_:
                raise Exception(f"rng state {name} is not added")
            orig = torch.get_rng_state()
            torch.set_rng_state(self.states_[name])
            try:
                yield
            finally:
                self.states_[name] = torch.get_rng_state()
                torch.set_rng_state(orig)

    return CpuRNGStatesTracker


def _recompute_functions(mrandom) -> list[type]:
    names = ("CheckpointFunction", "CheckpointWithoutOutputFunction")
    return [getattr(mrandom, n) for n in names if hasattr(mrandom, n)]


def _in_mode(fn):
    def wrapped(*args, **kwargs):
        with CudaAsCpu():
            return fn(*args, **kwargs)

    return wrapped


CpuRNGStatesTracker: type | None = None  # the class, once enabled() has built it over megatron's tracker


@contextlib.contextmanager
def enabled() -> Iterator[None]:
    """Apply the patches of the module docstring for the duration of the block (re-entrant)."""
    global CpuRNGStatesTracker
    from megatron.core.tensor_parallel import random as mrandom

    if getattr(mrandom, "_moru_cpu_compat", False):  # already inside
        yield
        return
    saved = {
        "tracker": mrandom.CudaRNGStatesTracker,
        "get": mrandom._get_cuda_rng_state,
        "set": mrandom._set_cuda_rng_state,
        "current_device": torch.cuda.current_device,
        "synchronize": torch.cuda.synchronize,
        "recompute": {c: c.__dict__["backward"] for c in _recompute_functions(mrandom)},
    }
    if CpuRNGStatesTracker is None:
        CpuRNGStatesTracker = _cpu_tracker_class(saved["tracker"])
    mrandom.CudaRNGStatesTracker = CpuRNGStatesTracker
    mrandom._get_cuda_rng_state = lambda device="cuda", clone=False, graph_safe=False: torch.get_rng_state()
    mrandom._set_cuda_rng_state = lambda new_state, device=-1, graph_safe=False: torch.set_rng_state(new_state)
    torch.cuda.current_device = lambda: torch.device("cpu")
    torch.cuda.synchronize = lambda device=None: None
    for cls, backward in saved["recompute"].items():
        cls.backward = staticmethod(_in_mode(backward.__func__))
    from megatron.core.transformer.moe import moe_utils

    added_gemm = not hasattr(moe_utils, "te_general_gemm")
    if added_gemm:
        moe_utils.te_general_gemm = None
    mrandom._moru_cpu_compat = True
    try:
        with CudaAsCpu():
            yield
    finally:
        mrandom.CudaRNGStatesTracker = saved["tracker"]
        mrandom._get_cuda_rng_state = saved["get"]
        mrandom._set_cuda_rng_state = saved["set"]
        torch.cuda.current_device = saved["current_device"]
        torch.cuda.synchronize = saved["synchronize"]
        for cls, backward in saved["recompute"].items():
            cls.backward = backward
        if added_gemm:
            del moe_utils.te_general_gemm
        mrandom._moru_cpu_compat = False
