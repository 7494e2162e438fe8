import numpy as np

from environment.offloading_v1 import LOCAL, OFFLOAD
from solvers.offloading_greedy import QueueGreedyPolicy


def info(quality: float, wait: float, cloud: float) -> dict:
    return {"features": {"required_quality": quality, "estimated_edge_wait_s": wait, "recent_cloud_latency_s": cloud}}


def test_greedy_offloads_what_the_edge_model_cannot_serve_well_enough():
    policy = QueueGreedyPolicy(edge_quality_index=0.684)
    assert policy.act(np.zeros(1), info(quality=0.70, wait=0.0, cloud=15.0)) == OFFLOAD


def test_greedy_offloads_when_the_estimated_edge_wait_exceeds_the_cloud_latency():
    policy = QueueGreedyPolicy(edge_quality_index=0.684)
    assert policy.act(np.zeros(1), info(quality=0.60, wait=5.0, cloud=4.0)) == OFFLOAD
    assert policy.act(np.zeros(1), info(quality=0.60, wait=3.0, cloud=4.0)) == LOCAL
    assert policy.act(np.zeros(1), info(quality=0.684, wait=0.0, cloud=0.5)) == LOCAL
