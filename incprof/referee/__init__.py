"""Other counters' conventions as data: each peer's total predicted from the op inventory, the
peers run, and published figures refereed under every convention."""
