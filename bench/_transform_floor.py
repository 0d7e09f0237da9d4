"""The floor of the batch-transform benchmark: the same CSV file read, predicted and written in
one process — pandas' C parser over chunks of about MaxPayloadInMB (6 MB), the model's
``predict``, one prediction per output line.

Run: ``python bench/_transform_floor.py MODEL.joblib INPUT.csv OUTPUT.csv``; prints
``{"seconds": ..., "rows": ...}`` (reading, predicting and writing; imports excluded).
"""

from __future__ import annotations

import json
import sys
import time

import joblib
import pandas as pd

CHUNK_ROWS = 6 * 1024 * 1024 // 16  # about 6 MB of Iris-shaped rows (16 bytes each)


def main() -> None:
    model_path, input_path, output_path = sys.argv[1:4]
    model = joblib.load(model_path)
    begin = time.perf_counter()
    rows = 0
    with open(output_path, "w") as output:
        for chunk in pd.read_csv(input_path, header=None, chunksize=CHUNK_ROWS):
            predictions = model.predict(chunk.to_numpy())
            output.write("\n".join(map(str, predictions.tolist())) + "\n")
            rows += len(predictions)
    print(json.dumps({"seconds": time.perf_counter() - begin, "rows": rows}))


if __name__ == "__main__":
    main()
