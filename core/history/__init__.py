"""History of every change, and the journal that makes adds crash-safe."""
