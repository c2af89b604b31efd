"""The on-disk schema of a synthetic EMG set (see docs/synthetic_schema.md): one Parquet row per generated
window, array columns as fixed-size lists of float32 (flattened row-major; shapes live in the metadata)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from emgaug.atomic import json_default

SCHEMA_VERSION = 1
METADATA_KEY = b"emgaug"  # provenance JSON, in every part's Arrow schema metadata (written when the part is opened)
PART_KEY = b"emgaug.part"  # the part's own record and the set's layout, in its Parquet footer (written at close)
# The folder of sets written before the Parquet-only layout held this JSON at its root; still read, never written:
# it made the folder unreadable to polars (which refuses a directory whose files have different extensions).
METADATA_FILE = "_emgaug_metadata.json"
PARTITION_KEY = "stage"  # hive partition column: final_dir/stage=<url-quoted name>/part-0.parquet
PART_NAME = "part-0.parquet"
# Float arrays are PLAIN-encoded (no BYTE_STREAM_SPLIT: Spark 3.x's default vectorised reader refuses it) and
# zstd-compressed; measurements in docs/synthetic_schema.md (perf/bench_parquet_encodings.py).
COMPRESSION = "zstd"

# label columns stored in every part file (stage comes from the partition directory)
STRING_COLUMNS = ("user", "session", "side", "filename", "split", "model_name", "checkpoint_sha256")
INT_COLUMNS = {"row_id": pa.int64(), "window_index": pa.int64(), "sample_index": pa.int32(),
               "start": pa.int64(), "stop": pa.int64(), "valid_samples": pa.int32()}
FLOAT_COLUMNS = ("sample_rate", "start_s", "stop_s")
LABEL_COLUMNS = ("row_id", "window_index", "sample_index", "user", "session", "side", "filename", "split",
                 "start", "stop", "start_s", "stop_s", "valid_samples", "sample_rate", "model_name", "checkpoint_sha256")
ARRAY_COLUMNS = ("emg", "angles", "angle_mask")
# row-group min/max statistics are written for every label column, so engines skip row groups on filters such as
# user = 'u7' or filename = '...' (rows are written in generation order: one recording's windows are contiguous);
# stage filters skip whole files (the partition folders)
STATISTICS_COLUMNS = LABEL_COLUMNS


def arrow_schema(emg_shape: tuple[int, int], angle_shape: tuple[int, int], metadata: dict[str, Any]) -> pa.Schema:
    """Schema of one part file: label columns, then EMG (C*T f32), angles (J*Ta f32) and angle mask (Ta bool)."""
    C, T = emg_shape
    J, Ta = angle_shape
    fields = []
    for name in LABEL_COLUMNS:
        if name in INT_COLUMNS:
            fields.append(pa.field(name, INT_COLUMNS[name], nullable=False))
        elif name in FLOAT_COLUMNS:
            fields.append(pa.field(name, pa.float64(), nullable=False))
        else:
            fields.append(pa.field(name, pa.string(), nullable=False))
    fields += [
        pa.field("emg", pa.list_(pa.float32(), C * T), nullable=False, metadata={b"shape": json.dumps([C, T]).encode()}),
        pa.field("angles", pa.list_(pa.float32(), J * Ta), nullable=False, metadata={b"shape": json.dumps([J, Ta]).encode()}),
        pa.field("angle_mask", pa.list_(pa.bool_(), Ta), nullable=False, metadata={b"shape": json.dumps([Ta]).encode()}),
    ]
    return pa.schema(fields, metadata={METADATA_KEY: encode_metadata(metadata)})


def encode_metadata(metadata: dict[str, Any]) -> bytes:
    return json.dumps(metadata, sort_keys=True, default=json_default).encode()

