"""Benchmark test sets to decontaminate against, and how to read their examples.

Each benchmark is a file, folder (read recursively) or glob in one of the formats its authors
publish (JSONL, JSON, CSV, TSV, Parquet; all but Parquet may be compressed: ``.gz``, ``.zst``, ``.bz2``,
``.xz``). An example's text is the concatenation, with ``"\\n"``, of the fields that hold benchmark
content (question, passage, choices, reference solution, tests); labels such as answer letters or
indices are left out, since a copy of the example rarely writes them the same way.

Files are listed and read by :mod:`core.formats`, as every moru input is: a plain path, ``file://``
and ``dbfs:/`` (the ``/dbfs`` mount) are local; any other URI goes through pyarrow's file systems:
``s3://`` (also written ``s3a://`` or ``s3n://``; an S3-compatible store through
``?endpoint_override=host:port``, keys as ``s3://KEY:SECRET@bucket/...``), ``gs://`` / ``gcs://``,
``abfs://`` / ``abfss://`` (``container@account.dfs.core.windows.net``), and ``hdfs://`` / ``viewfs://``
(these need libhdfs and a JVM: ``JAVA_HOME``, ``HADOOP_HOME``, ``CLASSPATH``). Credentials come from
where those clients usually look: the environment (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``,
``AZURE_*``), their config files, or the cluster's instance profile / service account / managed
identity; moru takes none of its own. A glob (``*``, ``?``, ``[…]``, ``**`` across folders) is matched
below its fixed prefix, and a folder it matches is read whole. Hidden names (``.x``, ``_x``), empty
files and, unless ``format`` is set, files of no benchmark format are left out and logged. Test sets
are small: a remote file is read whole into memory, and messages name it by its URI (without keys or
options).

A benchmark names either a ready-made ``preset`` for a known layout (:mod:`.presets`) or explicit
``fields`` (:class:`.layouts.Fields`):

- ``text``: dotted paths whose values are concatenated; a list value (choices, turns, tests) is
  joined too. A path step that meets a list applies the rest of the path to every element
  (``turns.content`` on ``{"turns": [{"content": …}, …]}``); a numeric step indexes it.
- ``id``: dotted path of the example id; without one the id is ``<file>#<n>``, the file's path
  relative to the benchmark's root and the example's 0-based position in it.
- ``records``: for JSON documents whose examples sit under a key (BBH's ``examples``; SQuAD's
  ``data.paragraphs``, a list of lists, is flattened). Without it a JSON file holding a list is a
  list of examples, and one holding an object is one example (the original MATH layout).

Unreadable or malformed input raises :class:`BenchmarkError` naming the file and the line (JSON
lines, a JSON document's syntax error), the row (CSV, TSV, Parquet; 0-based data rows, as the
``<file>#<n>`` ids count) or the record (JSON); so does a path that is missing or whose scheme pyarrow
does not know, with pyarrow's reason. Nothing is downloaded beyond the named files.

Modules: :mod:`.layouts` (what a layout and a preset are), :mod:`.presets` (the known layouts, a
table), :mod:`.config` (:class:`BenchmarkConfig`), :mod:`.files` (a benchmark's files and records
through :mod:`core.formats`), :mod:`.loading` (records → :class:`Example`: fields, layouts, ids).
"""

from spark_jobs.decontaminate.benchmarks.config import BenchmarkConfig, Format
from spark_jobs.decontaminate.benchmarks.files import BenchmarkError
from spark_jobs.decontaminate.benchmarks.layouts import Fields, Preset
from spark_jobs.decontaminate.benchmarks.loading import Example, load_examples
from spark_jobs.decontaminate.benchmarks.presets import PRESETS

__all__ = ["PRESETS", "BenchmarkConfig", "BenchmarkError", "Example", "Fields", "Format", "Preset", "load_examples"]
