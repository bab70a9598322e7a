"""SIGTERM / SIGUSR1 → finish the current step, checkpoint, exit with ``EXIT_PREEMPTED`` (Slurm requeues).

Slurm sends SIGTERM when it preempts or times out a job (SIGKILL follows after ``KillWait``, 30 s by default),
and ``#SBATCH --signal=USR1@180`` sends SIGUSR1 to every task of the job's steps 180 s before the time limit:
time enough to save a large checkpoint. The handler only records the signal; the loop checks once per step,
agreeing across all ranks (any rank signalled → all stop), so every rank takes part in the same final save.
"""

from __future__ import annotations

import signal

import torch

EXIT_PREEMPTED = 75  # sysexits' EX_TEMPFAIL: "try again later"; the sbatch templates requeue on it
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class PreemptionHandler:
    """Context manager installing the handlers (main thread only) and restoring the previous ones."""

    def __init__(self, signals: tuple[signal.Signals, ...] = SIGNALS):
        self.signals = signals
        self.received: int | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        self.received = signum

    def __enter__(self) -> PreemptionHandler:
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def should_stop(self, device: torch.device | str) -> bool:
        """True on every rank when any rank has received a signal (one all-reduce of one number)."""
        flag = torch.tensor([1 if self.received is not None else 0], dtype=torch.int32, device=device)
        if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""
