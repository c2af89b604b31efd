"""A synthetic set folder is one table for every common Parquet engine (issue 18 item 4): pyarrow.dataset, pandas,
polars and DuckDB read the same rows, labels and EMG bytes as `read_synthetic`, straight from the folder; Spark
(slow, where Java and pyspark are present) with its default vectorised reader."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from emgaug.synthesis import SyntheticWriter, read_synthetic

C, T, J, TA = 3, 40, 4, 8
STAGES = ["fist", "open hand/wide", "3"]  # a space, a slash and a numeric-looking name in the partition folders


def write_set(out: Path, stages=STAGES, n: int = 30, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    emg = (rng.standard_normal((n, C, T)) * 1e-4).astype(np.float32)
    ang = rng.standard_normal((n, J, TA)).astype(np.float32)
    labels = pd.DataFrame({
        "stage": [stages[k % len(stages)] for k in range(n)], "user": [f"u{k // 10}" for k in range(n)],
        "session": "s1", "side": "right", "filename": [f"file{k // 5}" for k in range(n)], "split": "train",
        "start": np.arange(n) * T, "stop": np.arange(n) * T + T, "sample_index": 0, "window_index": np.arange(n)})
    with SyntheticWriter(out, emg_shape=(C, T), angle_shape=(J, TA), row_group_bytes=3000,
                         metadata={"model_name": "ridge", "sample_rate": 200.0, "seed": seed}) as w:
        w.write_batch(emg, ang, labels, angle_mask=rng.random((n, TA)) > 0.2)
    return out


@pytest.fixture(scope="module")
def syn(tmp_path_factory) -> Path:
    return write_set(tmp_path_factory.mktemp("engines") / "syn")


def check_table(tbl: pa.Table, ref, what: str) -> None:
    """Same rows (by row_id), stage labels and EMG / angle bytes as emgaug's own reader."""
    tbl = tbl.sort_by("row_id")
    assert tbl.num_rows == len(ref), what
    assert tbl.column("row_id").to_pylist() == list(range(len(ref))), what
    assert [str(s) for s in tbl.column("stage").to_pylist()] == ref.labels["stage"].tolist(), what
    assert tbl.column("user").to_pylist() == ref.labels["user"].tolist(), what
    emg = np.asarray(tbl.column("emg").combine_chunks().flatten(), dtype=np.float32).reshape(-1, C, T)
    assert emg.tobytes() == ref.emg.tobytes(), what
    ang = np.asarray(tbl.column("angles").combine_chunks().flatten(), dtype=np.float32).reshape(-1, J, TA)
    assert ang.tobytes() == ref.angles.tobytes(), what


def test_pyarrow_dataset_and_pandas_read_the_folder(syn):
    ref = read_synthetic(syn)
    check_table(pads.dataset(syn, format="parquet", partitioning="hive").to_table(), ref, "pyarrow.dataset")
    df = pd.read_parquet(syn)
    check_table(pa.Table.from_pandas(df.assign(stage=df["stage"].astype(str)), preserve_index=False), ref, "pandas")


def test_polars_reads_the_folder_every_way(syn):
    pl = pytest.importorskip("polars")
    ref = read_synthetic(syn)
    check_table(pl.read_parquet(syn).to_arrow(), ref, "polars read_parquet(dir)")
    check_table(pl.scan_parquet(syn).collect().to_arrow(), ref, "polars scan_parquet(dir)")
    check_table(pl.read_parquet(f"{syn}/**/*.parquet", hive_partitioning=True).to_arrow(), ref, "polars glob")
    # a filter on user is pushed down to the row-group statistics; the result is the same rows
    got = pl.scan_parquet(syn).filter(pl.col("user") == "u1").select("row_id").collect()["row_id"].sort().to_list()
    assert got == list(range(10, 20))


def test_duckdb_reads_the_folder(syn):
    duckdb = pytest.importorskip("duckdb")
    ref = read_synthetic(syn)
    con = duckdb.connect()
    for src in (f"read_parquet('{syn}/**/*.parquet', hive_partitioning = true)", f"read_parquet('{syn}/*/*.parquet')"):
        rel = con.sql(f"SELECT * FROM {src}")
        check_table((getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table)(), ref, f"duckdb {src}")
    n = con.sql(f"SELECT count(*) FROM read_parquet('{syn}/**/*.parquet', hive_partitioning = true) "
                "WHERE stage = 'open hand/wide' AND user = 'u2'").fetchall()[0][0]
    assert n == int(((ref.labels["stage"] == "open hand/wide") & (ref.labels["user"] == "u2")).sum()) > 0
    # emgaug's provenance is readable from SQL too
    kv = con.sql(f"SELECT DISTINCT decode(key) FROM parquet_kv_metadata('{syn}/**/*.parquet')").fetchall()
    assert {"emgaug", "emgaug.part"} <= {k[0] for k in kv}


def test_numeric_looking_stage_names_stay_strings_with_the_documented_options(tmp_path):
    """Hive readers guess partition types ("01" -> 1); docs/synthetic_schema.md names each engine's option that
    keeps the stage a string. The options must give back the exact names."""
    syn = write_set(tmp_path / "num", stages=["01", "2"], n=8)
    want = read_synthetic(syn).labels["stage"].tolist()
    part = pads.partitioning(pa.schema([("stage", pa.string())]), flavor="hive")
    got = pads.dataset(syn, format="parquet", partitioning=part).to_table().sort_by("row_id")
    assert got.column("stage").to_pylist() == want
    pl = pytest.importorskip("polars")
    got = pl.read_parquet(syn, hive_schema={"stage": pl.String}).sort("row_id")
    assert got["stage"].to_list() == want
    duckdb = pytest.importorskip("duckdb")
    got = duckdb.sql(f"SELECT stage FROM read_parquet('{syn}/**/*.parquet', hive_partitioning = true, "
                     "hive_types = {'stage': VARCHAR}) ORDER BY row_id").fetchall()
    assert [g[0] for g in got] == want


@pytest.mark.slow
def test_spark_reads_the_folder_with_its_default_vectorised_reader(syn):
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime")
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[1]").appName("emgaug-engines").config("spark.ui.enabled", "false")
             .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")  # keep stage a string
             .getOrCreate())
    try:
        assert spark.conf.get("spark.sql.parquet.enableVectorizedReader") == "true"
        ref = read_synthetic(syn)
        rows = spark.read.parquet(str(syn)).select("row_id", "stage", "user", "emg", "angles").orderBy("row_id").collect()
        tbl = pa.table({"row_id": [r["row_id"] for r in rows], "stage": [r["stage"] for r in rows],
                        "user": [r["user"] for r in rows],
                        "emg": pa.array([r["emg"] for r in rows], pa.list_(pa.float32())),
                        "angles": pa.array([r["angles"] for r in rows], pa.list_(pa.float32()))})
        check_table(tbl, ref, f"spark {spark.version}")
        n = spark.read.parquet(str(syn)).where("user = 'u1' AND stage = 'fist'").count()
        assert n == int(((ref.labels["user"] == "u1") & (ref.labels["stage"] == "fist")).sum())
    finally:
        spark.stop()
