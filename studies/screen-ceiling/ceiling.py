"""The issue 11 calibration CASE (5 rules, no validation) writing (row_id, decision): usage ceiling.py LEDGER.parquet"""
import os, sys, tempfile

import duckdb

L = "'" + sys.argv[1].replace("'", "''") + "'"
OUT = os.path.join(tempfile.mkdtemp(), "ceiling.parquet")
RULES = """
  CASE WHEN export_from = 'CN' AND item IN ('metal','alloy','target','oxide','compound')
      AND list_has_any(elements, ['Sm','Gd','Tb','Dy','Lu','Sc','Y']) AND ship_date >= DATE '2025-04-04' THEN 'license_required'
    WHEN export_from = 'CN' AND item = 'magnet' AND ((magnet_family = 'smco' AND list_contains(elements, 'Sm'))
      OR (magnet_family = 'ndfeb' AND list_has_any(elements, ['Tb','Dy']))) AND ship_date >= DATE '2025-04-04' THEN 'license_required'
    WHEN export_from = 'CN' AND item IN ('equipment','raw_material') AND ship_date >= DATE '2025-11-08' THEN 'license_required'
    WHEN export_from = 'CN' AND item = 'battery' AND battery_wh_per_kg >= 300 AND ship_date >= DATE '2025-11-08' THEN 'license_required'
    WHEN export_from = 'CN' AND item IN ('technology','line_technology') AND ship_date >= DATE '2025-10-09' THEN 'license_required'
    ELSE 'not_controlled' END AS decision"""
con = duckdb.connect(); con.execute("SET threads=2")
con.execute(f"COPY (SELECT row_id, {RULES} FROM read_parquet({L})) TO '{OUT}' (FORMAT parquet)")
