"""What an MoE / MTP training step reports beside its loss: per-expert load, dropped tokens, the balancing and
z-losses, and the MTP loss (each logged apart from the language-model loss).

- **Expert load**: a forward hook on every megatron-core ``TopKRouter`` adds up its ``routing_map`` (tokens ×
  experts, after any capacity dropping) per MoE layer over the step's micro-batches (training forwards only).
  Summed over the ranks that hold distinct tokens (data × context parallel, and tensor parallel with sequence
  parallelism). ``expert_load``: one list of token counts per MoE layer (metrics.jsonl);
  ``moe_load_max_over_mean``: the worst layer's busiest expert over its mean (1.0 is perfect balance).
- **Dropped tokens**: top-k × tokens routed minus the assignments that survive (0 when dropless, i.e.
  ``moe.capacity_factor`` unset); ``moe_dropped_fraction``.
- **Balancing / z-loss**: megatron-core's layer-wise aux-loss tracker (the loss divided by its coefficient, as
  megatron logs it), averaged over MoE layers and micro-batches: ``moe_seq_load_balancing_loss``,
  ``moe_z_loss`` ...
- **MTP**: megatron-core's ``MTPLossLoggingHelper`` tracker, averaged over micro-batches: ``mtp_1_loss`` ...
  (the unweighted MTP cross-entropy; the training loss adds ``mtp.loss_weight`` × its mean over MTP layers).

All reductions are sums over process groups (gloo has no AVG), then divided.
"""

from __future__ import annotations

import torch


class StepStats:
    """Collects one optimizer step's MoE / MTP metrics; :meth:`collect` returns and resets them. Collective over
    the data-parallel group."""

    def __init__(self, model, tconfig, device: torch.device, num_microbatches: int):
        from megatron.core.transformer.moe.router import TopKRouter

        self.tconfig, self.device, self.num_microbatches = tconfig, device, num_microbatches
        self.routers = [m for m in model.modules() if isinstance(m, TopKRouter)]
        self.loads = [torch.zeros(r.config.num_moe_experts, dtype=torch.float64, device=device) for r in self.routers]
        self.routed = torch.zeros(2, dtype=torch.float64, device=device)  # [assignments wanted, assignments kept]
        self.handles = [r.register_forward_hook(self._hook(i)) for i, r in enumerate(self.routers)]

    def _hook(self, index: int):
        def hook(module, args, output):
            if not module.training:
                return
            routing_map = output[1].detach()
            self.loads[index] += routing_map.sum(0).to(self.loads[index])
            self.routed[0] += routing_map.shape[0] * module.topk
            self.routed[1] += routing_map.sum().double()

        return hook

    def _token_group_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        from megatron.core import parallel_state as ps

        torch.distributed.all_reduce(tensor, group=ps.get_data_parallel_group(with_context_parallel=True))
        if self.tconfig.sequence_parallel and ps.get_tensor_model_parallel_world_size() > 1:
            torch.distributed.all_reduce(tensor, group=ps.get_tensor_model_parallel_group())
        return tensor

    def collect(self) -> tuple[dict, dict]:
        """(values for metrics.jsonl, scalars shown on the console / TensorBoard)."""
        from megatron.core import parallel_state as ps

        record, show = {}, {}
        if self.routers:
            loads = self._token_group_sum(torch.stack(self.loads))
            routed = self._token_group_sum(self.routed.clone())
            record["expert_load"] = [[int(x) for x in layer] for layer in loads.tolist()]
            mean = loads.mean(1).clamp(min=1e-9)
            show["moe_load_max_over_mean"] = float((loads.max(1).values / mean).max())
            dropped = float(routed[0] - routed[1])
            record["moe_dropped_tokens"] = int(dropped)
            show["moe_dropped_fraction"] = dropped / float(routed[0]) if routed[0] > 0 else 0.0
            for load in self.loads:
                load.zero_()
            self.routed.zero_()
        dp = ps.get_data_parallel_world_size(with_context_parallel=True)
        show.update(self._aux_losses(dp))
        show.update(self._mtp_losses(dp))
        return record, show

    def _aux_losses(self, dp: int) -> dict:
        from megatron.core import parallel_state as ps
        from megatron.core.transformer.moe.moe_utils import clear_aux_losses_tracker, get_moe_layer_wise_logging_tracker

        out = {}
        tracker = get_moe_layer_wise_logging_tracker()
        for name, entry in tracker.items():
            values = entry["values"].detach().float().clone().to(self.device)
            torch.distributed.all_reduce(values, group=ps.get_data_parallel_group(with_context_parallel=True))
            layers = int((values != 0).sum()) or 1
            out[f"moe_{name}"] = float(values.sum()) / layers / self.num_microbatches / dp
        if tracker:
            clear_aux_losses_tracker()
        return out

    def _mtp_losses(self, dp: int) -> dict:
        from megatron.core import parallel_state as ps
        from megatron.core.transformer.multi_token_prediction import MTPLossLoggingHelper

        tracker = MTPLossLoggingHelper.tracker
        if "values" not in tracker:
            return {}
        values = tracker["values"].detach().float().clone().to(self.device)
        torch.distributed.all_reduce(values, group=ps.get_data_parallel_group(with_context_parallel=True))
        tracker["values"].zero_()
        return {f"mtp_{i + 1}_loss": float(v) / self.num_microbatches / dp for i, v in enumerate(values.tolist())}

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()
