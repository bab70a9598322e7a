"""Benchmark decontamination (EXAONE 3.5, §2.2): the benchmark test sets and how their examples are read
(:mod:`.benchmarks`: layouts and presets as data, config, loading through core.formats), and the Spark jobs that
index their normalized 50-character substrings and flag training documents that contain one
(:mod:`.contamination`)."""
