"""A spec to a running network: the nn.Module, FlopCounterMode's second count of it (no
arithmetic), latency and batch-size benchmarks, and the machine a timing ran on."""
