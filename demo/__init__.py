"""The demo: a generated bilingual corpus with planted ground truth (duplicates, malformed records, benchmark
copies, junk), the checks that hold the pipeline's results against it, and ``moru demo``'s run of them.
Benchmarks and tests use the generators too; nothing here imports ``moru``."""
