"""Writes a temporary folder with a file in it (Python's tempfile), says where, then fails."""

import os
import tempfile

if __name__ == "__main__":
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "scratch.bin"), "wb") as handle:
        handle.write(b"\0" * 1024)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "tempdir"), "w") as handle:
        handle.write(folder)
    print(f"temporary folder {folder}", flush=True)
    raise RuntimeError("failing after writing temporary files")
