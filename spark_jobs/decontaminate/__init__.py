"""Benchmark decontamination (EXAONE 3.5, §2.2): a registry of benchmark test sets and their readers
(:mod:`.registry`), and the Spark jobs that index their normalized 50-character substrings and flag
training documents that contain one."""
