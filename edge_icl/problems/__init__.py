"""The decision problems the lab runs: the registry (edge_icl/problems/registry.py) and each problem's protocol."""
