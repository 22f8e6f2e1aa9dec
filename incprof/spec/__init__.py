"""YAML to a checked spec: the layer types, the data model, the one reader of a spec file,
shape inference, flavours and rewrites, and the registry of built-in tables. No torch."""
