"""moru: megatron_train."""
