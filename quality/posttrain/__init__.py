"""Post-training data kernels (issue 20): record types, layout readers, quality signals, turn
supervision and sequence packing. Plain functions over Python objects; the Spark jobs in
spark_jobs/posttrain/ apply them.

- schema: Message / Conversation / PreferencePair, their dict (row) forms, stable ids
- validate: rejection reasons and the structural rules every record passes
- readers: one function per source layout (+ ``read_record``), with per-layout configs
- hh, rated: Anthropic HH dialogue splitting; pair rules for rated completions
- signals: per-row numbers (length, repetition, refusals, template leftovers, language mismatch)
- turns: which turns are supervised; the prompt / response split
- packing: best-fit-decreasing packing into ``seq_length`` bins
"""
