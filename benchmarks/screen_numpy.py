"""A hand-written NumPy pass of the October 2025 rules over a Parquet ledger: bench_screen's (c).

Run:  python benchmarks/screen_numpy.py LEDGER.parquet OUT.parquet

Writes (row_id, decision) like ``screen --keep row_id --no-rules``, the way one writes it by hand
for speed, with no validation: row group by row group, string columns read dictionary-encoded
(each string test is a lookup table over the dictionary), set columns turned into bitmasks,
DECIMAL(9, 4) percents compared as scaled integers (exact), each severity tier one OR of
Boolean arrays. The rules are those of ``bench_screen.HAND_WRITTEN`` (the same ledger shape:
``make_ledger.py``); bench_screen checks that the decisions are the same as screen's.
"""

from __future__ import annotations

import sys
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

STRINGS = ["export_from", "export_to", "origin", "item", "magnet_family", "end_use", "end_user"]
DECISIONS = ["not_controlled", "allow_with_report", "license_required", "case_by_case", "deny", "prohibited"]
APRIL = {"Sm", "Gd", "Tb", "Dy", "Lu", "Sc", "Y"}
OCTOBER = {"Ho", "Er", "Tm", "Eu", "Yb"}
LISTED = {"Dedrone by Axon", "DZYNE Technologies", "Elbit Systems of America, LLC", "Epirus, Inc.",
          "AeroVironment, Inc.", "Exelis Inc.", "Alliant Techsystems Operations LLC", "BAE Systems, Inc.",
          "Teledyne FLIR, LLC", "VSE Corporation", "Cubic Global Defense", "Recorded Future, Inc.",
          "Halifax International Security Forum", "TechInsights Inc."}


def _days(text: str) -> int:
    return (date.fromisoformat(text) - date(1970, 1, 1)).days


APR04, OCT09, NOV08, DEC01 = (_days(d) for d in ("2025-04-04", "2025-10-09", "2025-11-08", "2025-12-01"))


def _is(column: pa.ChunkedArray, values) -> np.ndarray:
    """``column IN values`` for a dictionary-encoded string column: a lookup over its dictionary."""
    out = []
    for chunk in column.chunks:
        table = np.array([v in values for v in chunk.dictionary.to_pylist()], dtype=bool)
        out.append(table[chunk.indices.to_numpy(zero_copy_only=False)])
    return np.concatenate(out) if out else np.zeros(0, dtype=bool)


def _masks(column: pa.ChunkedArray, universe: list[str]) -> np.ndarray:
    """A bitmask per row of a list-of-strings column: bit i for ``universe[i]``."""
    out = []
    bit = {v: np.int64(1 << i) for i, v in enumerate(universe)}
    for chunk in column.chunks:
        offsets = chunk.offsets.to_numpy()
        flat = chunk.flatten()
        if isinstance(flat, pa.DictionaryArray):
            lookup = np.array([bit.get(v, 0) for v in flat.dictionary.to_pylist()], dtype=np.int64)
            bits = lookup[flat.indices.to_numpy(zero_copy_only=False)] if len(lookup) else np.zeros(0, np.int64)
        else:
            encoded = flat.dictionary_encode()
            lookup = np.array([bit.get(v, 0) for v in encoded.dictionary.to_pylist()], dtype=np.int64)
            bits = lookup[encoded.indices.to_numpy(zero_copy_only=False)] if len(lookup) else np.zeros(0, np.int64)
        mask = np.zeros(len(chunk), dtype=np.int64)
        lengths = np.diff(offsets)
        rows = np.repeat(np.arange(len(chunk)), lengths)
        np.bitwise_or.at(mask, rows, bits)
        out.append(mask)
    return np.concatenate(out)


def _scaled(column: pa.ChunkedArray) -> np.ndarray:
    """A DECIMAL(p <= 18, s) column as its unscaled int64 values (exact): the low half of each
    16-byte little-endian two's-complement value."""
    array = column.combine_chunks()
    data = np.frombuffer(array.buffers()[1], dtype=np.int64)
    return data[2 * array.offset:2 * (array.offset + len(array)):2]


def decide(batch: pa.Table) -> np.ndarray:
    """The decision index (into DECISIONS) of each row."""
    c = batch.column
    day = c("ship_date").combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)
    from_cn, to_cn, origin_cn = _is(c("export_from"), {"CN"}), _is(c("export_to"), {"CN"}), _is(c("origin"), {"CN"})
    item = c("item")
    universe = sorted(APRIL | OCTOBER | {"Nd", "Pr", "La", "Ce", "Pm"})
    el = _masks(c("elements"), universe)

    def any_of(values):
        return (el & sum(1 << universe.index(v) for v in values)) != 0

    tech = c("cn_re_tech")
    tech_len = np.concatenate([np.diff(ch.offsets.to_numpy()) for ch in tech.chunks])
    wh = c("battery_wh_per_kg").to_numpy()
    re_content = _scaled(c("re_content"))
    ownership = _scaled(c("cn_listed_ownership"))
    end_use, family = c("end_use"), c("magnet_family")
    node, layers = c("logic_node_nm").to_numpy(), c("memory_layers").to_numpy()
    ai = c("ai_military_potential").to_numpy(zero_copy_only=False)
    military = c("end_user_military").to_numpy(zero_copy_only=False)

    annex1 = _is(item, {"metal", "alloy", "target", "oxide", "compound", "magnet"}) & any_of(APRIL)
    outside = ~from_cn & ~to_cn
    a1 = from_cn & _is(item, {"metal", "alloy", "target", "oxide", "compound"}) & any_of(APRIL) & (day >= APR04)
    magnet = _is(item, {"magnet"})
    a2 = from_cn & magnet & (day >= APR04) & ((_is(family, {"smco"}) & any_of({"Sm"}))
                                              | (_is(family, {"ndfeb"}) & any_of({"Tb", "Dy"})))
    o1 = from_cn & ((_is(item, {"metal", "alloy", "target", "oxide", "compound", "functional_material"})
                     & any_of(OCTOBER)) | (magnet & any_of({"Ho"}))) & (day >= NOV08)
    o2 = from_cn & _is(item, {"equipment", "raw_material"}) & (day >= NOV08)
    o3 = from_cn & _is(item, {"battery"}) & (wh >= 300) & (day >= NOV08)
    o4 = from_cn & _is(item, {"superhard"}) & (day >= NOV08)
    o5 = from_cn & _is(item, {"technology", "line_technology"}) & (day >= OCT09)
    o6 = outside & origin_cn & annex1 & (day >= OCT09)
    o7 = outside & ~origin_cn & _is(item, {"magnet", "target"}) & (re_content >= 1000) & (day >= DEC01)
    o8 = outside & ~origin_cn & annex1 & (tech_len > 0) & (day >= DEC01)
    o13 = _is(c("end_user"), LISTED) & (from_cn | to_cn) & (day >= OCT09)
    ext = (o6 | o7 | o8) & (day >= OCT09)
    o9 = ext & (military | (ownership >= 500000))
    o10 = ext & _is(end_use, {"military", "military_potential", "wmd", "terrorism"})
    o11 = ext & ((_is(end_use, {"logic_chips"}) & (node > 0) & (node <= 14))
                 | (_is(end_use, {"memory_chips"}) & (layers >= 256)) | _is(end_use, {"chip_equipment"})
                 | (_is(end_use, {"ai_rnd"}) & ai))
    o12 = ext & _is(end_use, {"humanitarian"}) & ~(o9 | o10)
    licensed = a1 | a2 | o1 | o2 | o3 | o4 | o5 | ((o6 | o7 | o8) & ~o12)
    decision = np.zeros(len(day), dtype=np.int8)
    for index, holds in ((1, o12), (2, licensed), (3, o11 & ~o12), (4, o9 | o10), (5, o13)):
        decision[holds] = index      # least severe first: the most severe that holds is left
    return decision


def main(ledger: str, out: str) -> None:
    source = pq.ParquetFile(ledger, read_dictionary=STRINGS)
    names = pa.array(DECISIONS)
    schema = pa.schema([("row_id", pa.int64()), ("decision", pa.dictionary(pa.int8(), pa.string()))])
    with pq.ParquetWriter(out, schema) as writer:
        for group in range(source.num_row_groups):
            batch = source.read_row_group(group)
            decision = pa.DictionaryArray.from_arrays(pa.array(decide(batch)), names)
            writer.write_table(pa.table({"row_id": batch.column("row_id").combine_chunks().cast(pa.int64()),
                                         "decision": decision}, schema=schema))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
