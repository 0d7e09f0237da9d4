"""Prints training metrics as a framework's training loop does."""

for epoch, loss in enumerate([0.9, 0.5, 0.25]):
    print(f"epoch {epoch}: loss: {loss}; accuracy={1 - loss / 2:.3f}", flush=True)
print("validation accuracy=not-a-number", flush=True)  # matches the regex, is not a number: ignored
