"""Reading record files: THE one place that tells a file's format, opens its compression, lists the files a
configured path names and turns bytes into raw records. Every reader reports damage instead of raising.

Names (:mod:`core.formats.names`)::

    detect_format(name) -> "jsonl" | "json" | "csv" | "tsv" | "parquet" | "warc" | "text" | None
    detect_compression(name) -> "gzip" | "zstd" | "bz2" | "xz" | None     # .gz .gzip .zst .zstd .bz2 .xz

Codecs (:mod:`core.formats.codecs`)::

    open_decompressed(bytes | binary stream, compression) -> binary stream   # reading may raise CODEC_ERRORS
    CODEC_ERRORS                                                            # zlib, gzip, zstd, bz2, lzma, EOF
    describe(exc) -> "ZstdError: ..."                                       # a problem's detail

Readers (:mod:`core.formats.readers`): each yields ``Raw(index, value, raw)`` records and ``Problem(index,
kind, detail, raw)`` reports in file order and never raises on bad data. A damaged file yields the records
before the damage, then one ``corrupt_file`` problem carrying the codec's message. A UTF-8 BOM at the start of
JSON lines, CSV and text is dropped::

    iter_lines(src, compression)                          Raw(i, line bytes)
    iter_jsonl(src, compression, parse=True)              Raw(i, parsed value, line) | invalid_json | invalid_utf8
                                                          | blank_line (only a blank line with records after it)
    iter_json(src, compression)                           a .json file: JSON lines, or one document Raw(0, doc)
    iter_csv(src, compression, delimiter=",", header=True, columns=None)
                                                          Raw(i, {column: str}) | corrupt_record | invalid_utf8
    iter_parquet(src | path, batch_size=1024, columns=None)          Raw(i, {column: value})
    iter_parquet_batches(src | path, batch_size=1024, columns=None)  pyarrow.RecordBatch ... [Problem]
    iter_warc(src, record_types=("response", "resource"))  Raw(i, WarcRecord) | corrupt_record (broken header)
    iter_text(src, compression, split="file" | "lines" | "blocks")   Raw(i, str) | invalid_utf8
    iter_records(fmt, src, compression, **options)        the reader for a format

Listing (:mod:`core.formats.listing`)::

    list_files(path, hidden="skip" | "include", known_formats_only=False) -> Listing(files, skipped)
    ListedFile(path, relpath, size, real_path)    SkippedFile(path, relpath, reason, detail)
    filesystem_for(uri) -> (pyarrow FileSystem, path inside it)          # remote files, names kept as written
    is_remote(path) -> bool                                              # read through pyarrow, not the disk

``path`` is a file, a folder (read recursively) or a glob, local (``file://``, ``dbfs:/`` through ``/dbfs``)
or remote (``s3://``, ``s3a://``, ``gs://``, ``abfss://``, ``hdfs://`` through pyarrow). Names are never
URL-decoded. Symlinks are followed; cycles and files reached twice are skipped with a reason; hidden names
(``_x``, ``.x``: Hadoop's rule) are skipped by default and reported; zero-byte files are reported as ``empty``.
"""

from core.formats.codecs import CODEC_ERRORS, describe, open_decompressed
from core.formats.listing import (
    SKIP_REASONS,
    HiddenPolicy,
    ListedFile,
    Listing,
    SkippedFile,
    filesystem_for,
    is_hidden,
    is_remote,
    list_files,
)
from core.formats.names import FORMATS, Compression, Format, detect_compression, detect_format
from core.formats.readers import (
    PROBLEMS,
    Item,
    Problem,
    Raw,
    WarcRecord,
    iter_csv,
    iter_json,
    iter_jsonl,
    iter_lines,
    iter_parquet,
    iter_parquet_batches,
    iter_records,
    iter_text,
    iter_warc,
    parse_json,
)

__all__ = [
    "CODEC_ERRORS", "FORMATS", "PROBLEMS", "SKIP_REASONS", "Compression", "Format", "HiddenPolicy", "Item",
    "ListedFile", "Listing", "Problem", "Raw", "SkippedFile", "WarcRecord", "describe", "detect_compression",
    "detect_format", "filesystem_for", "is_hidden", "is_remote", "iter_csv", "iter_json", "iter_jsonl", "iter_lines",
    "iter_parquet", "iter_parquet_batches", "iter_records", "iter_text", "iter_warc", "list_files",
    "open_decompressed", "parse_json",
]  # fmt: skip
