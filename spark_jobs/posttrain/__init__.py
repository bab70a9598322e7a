"""Post-training data: conversations and preference pairs through the same kind of jobs as pretraining text
(ingest with quarantine, normalize + language id per turn, dedup on prompts, decontamination of every turn,
signals, select, a Great Expectations gate) and an emit that renders, masks and packs them for SFT and DPO.
The kernels (layouts, rejection reasons, signals, packing) are in quality/posttrain; the jobs here are the short
Spark pieces around them."""
