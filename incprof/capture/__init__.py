"""Any nn.Module to rows, an op inventory or a spec: model references (torchvision:, timm:,
file.py:factory), the eager trace, the exported graph, and the export back to YAML."""
