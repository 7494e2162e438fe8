"""Validated configuration of the split adapter-training problem (DASHF paper).

Defaults follow Qian & Zhao, "User Association and Resource Allocation in Large Language
Model Based Mobile Edge Computing System over 6G Wireless Communications"
(papers/dashf-user-association.txt), section V-A. Every quantity the paper leaves open
is marked "ours" with the value chosen and why. Unknown fields are rejected.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, model_validator

from environment.config import StrictConfig, validate


class AdapterTrainingConfig(StrictConfig):
    """Everything an adapter-training instance is drawn from (DASHF paper, II and V-A)."""

    # V-A: "10 mobile users and 2 servers"; Fig. 3 goes to (20, 3). At most 40 users and
    # 5 servers: DASHF's time grows steeply with both (measured on 2 cores: (10, 2) 1 s,
    # (20, 3) 50 s, (40, 2) 122 s, (10, 5) 26 s, (40, 3) 257 s, (20, 5) 327 s; (40, 5)
    # did not finish in 5 minutes). scripts/measure_bounds.py repeats the single bounds.
    n_users: int = Field(10, gt=0, le=40)
    n_servers: int = Field(2, gt=0, le=5)
    # V-A: "a network topology of 1000 m x 1000 m". Users AND servers are dropped
    # uniformly on the square (ours: the paper does not say where the servers are).
    area_side_m: float = Field(1000.0, gt=0)
    # V-A: "Gaussian noise power sigma^2 is -134 dBm". Section II-B uses sigma^2 as the
    # noise power spectral density in r = b log2(1 + g p / (sigma^2 b)), so we read the
    # value as -134 dBm/Hz (ours: the literal reading; -174 is the thermal density).
    noise_density_dbm_hz: float = -134.0
    # V-A: "The total bandwidth for each server b_max is 10 MHz" (3d).
    b_max_hz: float = Field(10e6, gt=0)
    # V-A: p_max^(n) = 0.2 W (3e), p_max^(m) = 10 W (3f).
    p_max_user_w: float = Field(0.2, gt=0)
    p_max_server_w: float = Field(10.0, gt=0)
    # V-A: "GPU resource utilization is 0.55 for users and servers".
    gpu_utilisation: float = Field(0.55, gt=0, le=1)
    # V-A: F_max^(n) = 19.58 TFLOPs "with four GTX 1080 GPUs" = 4 x 8.9 TFLOPS (GTX 1080
    # FP32 peak) x 0.55; F_max^(m) = 1372.8 TFLOPs "with eight A100 GPUs" = 8 x 312 TFLOPS
    # (A100 BF16 tensor peak) x 0.55. F_n, F_{n,m} are these totals, so the GPU count
    # g_n, g_m of T^(t1), T^(t3) is folded into F (ours: it avoids counting GPUs twice).
    # At most 1,000 GPUs: counts in F_max, bounded as every size of a config is.
    user_gpus: int = Field(4, gt=0, le=1_000)
    user_gpu_peak_flops: float = Field(8.9e12, gt=0)
    server_gpus: int = Field(8, gt=0, le=1_000)
    server_gpu_peak_flops: float = Field(312e12, gt=0)
    # V-A: effective switched capacitance kappa_n = kappa_m = 1e-38.
    kappa_user: float = Field(1e-38, gt=0)
    kappa_server: float = Field(1e-38, gt=0)
    # V-A: adapter sizes d_n ~ U[1.2, 14] M parameters (LLaMA-Adapter [2], [3]).
    adapter_params_low: float = Field(1.2e6, gt=0)
    adapter_params_high: float = Field(14e6, gt=0)
    # V-A: token data sizes ~ U[10, 50] Mbit.
    token_data_bits_low: float = Field(10e6, gt=0)
    token_data_bits_high: float = Field(50e6, gt=0)
    # Ours: t_n (FLOPs of all tokens per adapter parameter) = flops_per_param_token x
    # tokens, tokens = token data bits / bits_per_token. 6 FLOPs per parameter per token
    # is the usual training estimate (forward 2 + backward 4, Kaplan et al. 2020);
    # 32 bits per token = 4 bytes of text per token (the ICL paper's OpenAI rule).
    flops_per_param_token: float = Field(6.0, gt=0)
    bits_per_token: float = Field(32.0, gt=0)
    # V-A: omega_t = 0.5, omega_e = 0.005 (eq. 2).
    omega_t: float = Field(0.5, ge=0)
    omega_e: float = Field(0.005, ge=0)
    # V-A: varpi_1 = 10000 / ln 2, varpi_2 = 1/3 (eq. 1).
    varpi_1: float = Field(10000.0 / math.log(2.0), gt=0)
    varpi_2: float = Field(1.0 / 3.0, gt=0)
    # V-A: "float32", omega_b = 32 bits per parameter.
    omega_b: float = Field(32.0, gt=0)
    # V-A: e_n = e_m = 1 training epoch. At most 1,000: factors of the training time
    # (eq. 1), bounded as every size of a config is.
    epochs_user: int = Field(1, gt=0, le=1_000)
    epochs_server: int = Field(1, gt=0, le=1_000)
    # Ours: the most users one server may serve in the Hungarian rounding of AO part 1
    # (the paper's "augmented" matching); None = no limit besides (3d), (3f), (3h).
    max_users_per_server: int | None = Field(None, gt=0, le=40)

    @model_validator(mode="after")
    def _consistent(self) -> "AdapterTrainingConfig":
        if self.adapter_params_low > self.adapter_params_high:
            raise ValueError("adapter_params_low must be <= adapter_params_high")
        if self.token_data_bits_low > self.token_data_bits_high:
            raise ValueError("token_data_bits_low must be <= token_data_bits_high")
        if self.omega_t == 0 and self.omega_e == 0:
            raise ValueError("omega_t and omega_e cannot both be 0 (the SCR would divide by 0)")
        if self.max_users_per_server is not None and self.max_users_per_server * self.n_servers < self.n_users:
            raise ValueError("max_users_per_server x n_servers must be >= n_users")
        return self

    @property
    def f_max_user(self) -> float:
        """F_max^(n) in FLOP/s (V-A: 19.58 TFLOPs by default)."""
        return self.user_gpus * self.user_gpu_peak_flops * self.gpu_utilisation

    @property
    def f_max_server(self) -> float:
        """F_max^(m) in FLOP/s (V-A: 1372.8 TFLOPs by default)."""
        return self.server_gpus * self.server_gpu_peak_flops * self.gpu_utilisation


def adapter_training_config(data: dict[str, Any] | None = None, **overrides: Any) -> AdapterTrainingConfig:
    """Validate a config mapping (plus keyword overrides); ConfigError with one line on bad input."""
    return validate(AdapterTrainingConfig, {**(data or {}), **overrides}, "adapter-training config")
