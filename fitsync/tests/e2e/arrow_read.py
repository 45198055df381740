"""Reads an export with pyarrow (an Arrow implementation independent of the service's):
prints its columns, their types, its rows and (Parquet) its row groups as JSON."""
import json
import sys

import pyarrow.csv as pcsv
import pyarrow.parquet as pq

path, fmt = sys.argv[1], sys.argv[2]
if fmt == "parquet":
    f = pq.ParquetFile(path)
    table, groups = f.read(), f.num_row_groups
else:
    table, groups = pcsv.read_csv(path), None
print(json.dumps({
    "columns": table.column_names,
    "types": [str(t) for t in table.schema.types],
    "rows": table.to_pylist(),
    "row_groups": groups,
}, default=str))
