"""An entry point that defines no serving function: the MXNet model server's defaults serve the
model (its default model_fn loads model-symbol.json / model-0000.params / model-shapes.json)."""
