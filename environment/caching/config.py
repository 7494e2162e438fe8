"""Validated configuration of the edge model-caching problem (least-AoT paper).

Defaults follow Xu et al., "Cached Model-as-a-Resource: Provisioning Large Language Model
Agents for Edge Intelligence in Space-air-ground Integrated Networks"
(papers/cached-model-least-aot.txt), section VI-A. Our copy of the paper lost its
formulas and most of its constants: every value the paper does not give is marked
"ours" with the reason it was chosen. Unknown fields are rejected.

One ground BS is modelled (the least-AoT algorithm runs per ground BS, section IV-C).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from environment.config import StrictConfig, validate

# VI-A: "ImageBind [40] as the multimodal perception module of LLM agents, whose
# performance is 77.7% for images, 50.0% for videos, 63.4% for infrared, 54.0% for
# depth, 66.9% for audio, 25.0% for IMU".
IMAGEBIND_ACCURACY: dict[str, float] = {
    "image": 0.777,
    "video": 0.500,
    "infrared": 0.634,
    "depth": 0.540,
    "audio": 0.669,
    "imu": 0.250,
}


class CachedModel(StrictConfig):
    """One reasoning LLM the BS may cache (III intro: g_m, computation per token, W_m)."""

    name: str
    family: str
    # Parameters in billions; the computation per token is 2 x parameters FLOPs (the
    # usual forward-pass estimate, Kaplan et al. 2020).
    parameters_b: float = Field(gt=0)
    # g_m of (3): runtime GPU memory, "proportion to model size". Ours: the common
    # serving estimate, fp16 weights (2 bytes per parameter) plus 20% for the KV cache
    # and activations: 2.4 GB per billion parameters (LLaMA-65B 156.5 GB, GPT-3 420 GB).
    memory_gb: float = Field(gt=0)
    # W_m: VI-A "LLAMA-65B and GPT3-174B, whose context windows are 2k and 8k tokens".
    context_tokens: int = Field(gt=0)
    # Zero-shot reasoning accuracy and the most CoT examples add (eq. 15, 20), before the
    # perception accuracy of the service's modality; ours (the paper gives none).
    zero_shot: float = Field(ge=0, le=1)
    cot_gain: float = Field(ge=0, le=1)
    # l_m of eq. (21), per load (refreshes included). Ours: 0.05 per GB of fp16 weights
    # loaded, so a load costs about 1 (LLaMA) to 2.5 (GPT-3) cloud-served requests.
    switching_cost: float = Field(ge=0)
    # p_m of eq. (26): the cloud's pay-as-you-go price per request on this model. Ours.
    cloud_process_cost: float = Field(ge=0)

    @model_validator(mode="after")
    def _accuracy_at_most_one(self) -> "CachedModel":
        if self.zero_shot + self.cot_gain > 1:
            raise ValueError(f"model {self.name}: zero_shot + cot_gain must be <= 1")
        return self

    @property
    def flops_per_token(self) -> float:
        """Computation per token (III intro), 2 x parameters."""
        return 2.0 * self.parameters_b * 1e9


def llama_65b(index: int) -> CachedModel:
    """A LLaMA-65B-class reasoning model (VI-A): 2k context, 156.5 GB at runtime."""
    return CachedModel(
        name=f"llama-65b-{index}", family="llama-65b", parameters_b=65.2, memory_gb=156.48,
        context_tokens=2048, zero_shot=0.55, cot_gain=0.20, switching_cost=6.52, cloud_process_cost=1.0,
    )


def gpt3_175b(index: int) -> CachedModel:
    """A GPT-3-175B-class reasoning model (VI-A): 8k context, 420 GB at runtime."""
    return CachedModel(
        name=f"gpt3-175b-{index}", family="gpt3-175b", parameters_b=175.0, memory_gb=420.0,
        context_tokens=8192, zero_shot=0.50, cot_gain=0.30, switching_cost=17.5, cloud_process_cost=1.0,
    )


def default_models(n_models: int = 10) -> list[CachedModel]:
    """VI-A: "The total number of reasoning LLMs is set to 10", of the two families.

    Ours: the families alternate, LLaMA-65B at even indices, GPT-3-175B at odd ones.
    """
    return [llama_65b(m // 2) if m % 2 == 0 else gpt3_175b(m // 2) for m in range(n_models)]


class Service(StrictConfig):
    """One LLM agent service i: its perception modality, models and CoT thoughts."""

    name: str
    # The ImageBind modality of the service's input (VI-A); its accuracy scales the
    # service's accuracy on every model (ours: perception and reasoning independent).
    modality: str
    # The best-matched model and an equivalent one that also serves it (III-C: "each
    # group of users ... LLM agents based on one or several LLMs"; eq. 24: requests on an
    # equivalent model pay a larger accuracy cost). None: only the best-matched model.
    best_model: int = Field(ge=0)
    equivalent_model: int | None = Field(None, ge=0)
    # Share of the service's requests that ask for the best-matched model (ours).
    best_share: float = Field(0.8, ge=0, le=1)
    # K_i: thoughts each served request adds to the model's context (eq. 18). Ours. At
    # most 100: every thought of every request is drawn when the trace is made.
    thoughts_per_request: int = Field(gt=0, le=100)
    # Prompt and answer tokens of a request, computed besides the thoughts (eq. 23). Ours.
    prompt_tokens: int = Field(200, ge=0)
    output_tokens: int = Field(300, ge=0)

    @model_validator(mode="after")
    def _known_modality(self) -> "Service":
        if self.modality not in IMAGEBIND_ACCURACY:
            raise ValueError(f"service {self.name}: unknown modality {self.modality!r}; known: {', '.join(IMAGEBIND_ACCURACY)}")
        if self.equivalent_model == self.best_model:
            raise ValueError(f"service {self.name}: equivalent_model must differ from best_model")
        return self


def default_services(n_services: int = 10, n_models: int = 10) -> list[Service]:
    """VI-A: "The default number of services is set to 10". The rule is ours.

    Service i: modality i mod 6 (the six ImageBind modalities), best-matched model
    i mod M, equivalent model (i + 1) mod M (the other family when families
    alternate), K_i = 1 + (i mod 3) thoughts per request.
    """
    modalities = list(IMAGEBIND_ACCURACY)
    return [
        Service(
            name=f"service-{i}",
            modality=modalities[i % len(modalities)],
            best_model=i % n_models,
            equivalent_model=(i + 1) % n_models if n_models > 1 else None,
            thoughts_per_request=1 + i % 3,
        )
        for i in range(n_services)
    ]


class CachingConfig(StrictConfig):
    """Everything a caching episode is built from (least-AoT paper, III-C, III-D, IV-A, VI-A)."""

    # At most 100 models and 100 services, 10 x VI-A's 10 and 5 x Fig. 3(b)'s 20: the
    # decision's candidates are the cached models, and each (model, service) pair has
    # its accuracy and context.
    models: list[CachedModel] = Field(default_factory=default_models, min_length=1, max_length=100)
    services: list[Service] = Field(default_factory=default_services, min_length=1, max_length=100)
    # VI-A: "We evaluate the proposed algorithm within 100 time steps". At most 10,000
    # (100 x): the whole request trace of the episode is drawn at reset.
    slots: int = Field(100, gt=0, le=10_000)
    # VI-A: "the default number of GPUs at ground BSs is set to 24"; "the memory is 80 GB,
    # energy efficiency is 810 GFLOPS/W, and energy capacity is 300 W" per GPU.
    # At most 1,000 GPUs (Fig. 3(c) sweeps 8-32): the more memory, the more models are
    # cached and the more candidates each eviction has.
    n_gpus: int = Field(24, gt=0, le=1_000)
    gpu_memory_gb: float = Field(80.0, gt=0)
    gpu_efficiency_flops_per_w: float = Field(810e9, gt=0)
    gpu_power_w: float = Field(300.0, gt=0)
    # Length of a slot, for the energy budget of (5). Ours: 2 s, so a cached model serves
    # about 10 requests of 2 thoughts per slot before (5) sends the rest to the cloud.
    slot_seconds: float = Field(2.0, gt=0)
    # VI-A: "the default number of users is set to 10". At most 10,000 (Fig. 3(d) sweeps
    # 5-30): requests per slot grow with them, and each is drawn and served.
    n_users: int = Field(10, gt=0, le=10_000)
    # VI-A: requests are "generated from the Poisson point process depending on the number
    # of users": each user sends Poisson(requests_per_user) requests per slot (ours: 1).
    # At most 100, for the same reason.
    requests_per_user: float = Field(1.0, gt=0, le=100)
    # III intro: "each group of users can use one LLM agent as their active assistant
    # because their attention is limited depending on their preferences and current
    # tasks". Ours: a user's active service is drawn by Zipf popularity over services and
    # redrawn with this probability each slot.
    service_switch_probability: float = Field(0.1, ge=0, le=1)
    zipf_exponent: float = Field(0.8, ge=0)
    # VI-A: "The size of input data of LLM agent services is uniformly selected from
    # [100, 200] MB".
    input_mb_low: float = Field(100.0, ge=0)
    input_mb_high: float = Field(200.0, ge=0)
    # VI-A: "For each CoT reasoning example, the maximum size is set to 200 tokens". Ours:
    # each thought's size is drawn uniformly from the integers [20, 200].
    thought_tokens_low: int = Field(20, gt=0)
    thought_tokens_high: int = Field(200, gt=0)
    # nu of eq. (19). VI-A: "The default context vanishing factor is set to 0.6".
    vanishing_factor: float = Field(0.6, gt=0, lt=1)
    # c of eq. (20), in (0, 1). Ours: 0.8, so 5 recent thoughts give 67% of the CoT gain.
    accuracy_base: float = Field(0.8, gt=0, lt=1)
    # Accuracy of a request on the equivalent model relative to the best-matched one
    # (eq. 24's "requests processed by other LLMs with the equivalent function"). Ours.
    equivalent_match: float = Field(0.85, gt=0, le=1)
    # Unit transmission cost of eq. (22) per MB of input, VI-A: "the edge access cost ...
    # 0.0001 for ground BSs" (read per MB, the unit of the input size).
    edge_access_cost_per_mb: float = Field(0.0001, ge=0)
    # Eq. (26), VI-A: "The cloud access cost is set to 0.04 for ground BSs" (per MB).
    cloud_access_cost_per_mb: float = Field(0.04, ge=0)
    # Eq. (23): the edge computing cost per kJ of GPU energy (energy = computed FLOPs /
    # efficiency). Ours: 3 per kJ, about 0.4 (LLaMA) to 1.2 (GPT-3) per request.
    energy_cost_per_kj: float = Field(3.0, ge=0)
    # Eq. (24): unit accuracy cost per request, times (1 - A). Ours: 2, so an edge request
    # (about 1.8 before switching, 3 with loads and refreshes) costs well below a cloud
    # one (about 7). The cloud's accuracy cost is 0 (IV-A2: "expected to be minimal ...
    # the most accurate model").
    accuracy_unit_cost: float = Field(2.0, ge=0)
    # Slots over which `recent_requests` is counted in a decision's facts. Ours. At most
    # an episode's most slots.
    recent_window: int = Field(5, gt=0, le=10_000)
    # Whether a decision may evict a model requested in the current slot (its requests
    # then go to the cloud). Ours: True, the decision (every cached model is a
    # candidate); False takes those evictions out of the env's action mask, the
    # protection every online rule of solvers/caching.py applies by itself.
    evict_requested: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> "CachingConfig":
        if self.input_mb_low > self.input_mb_high:
            raise ValueError("input_mb_low must be <= input_mb_high")
        if self.thought_tokens_low > self.thought_tokens_high:
            raise ValueError("thought_tokens_low must be <= thought_tokens_high")
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError("model names must be unique")
        for service in self.services:
            for role in ("best_model", "equivalent_model"):
                index = getattr(service, role)
                if index is not None and index >= len(self.models):
                    raise ValueError(f"service {service.name}: {role} {index} is not a model index (0..{len(self.models) - 1})")
            for index in (service.best_model, service.equivalent_model):
                if index is None:
                    continue
                model = self.models[index]
                # A fresh model must hold one request's thoughts, or the refresh rule loops.
                if service.thoughts_per_request * self.thought_tokens_high > model.context_tokens:
                    raise ValueError(
                        f"service {service.name}: {service.thoughts_per_request} thoughts of up to {self.thought_tokens_high} tokens exceed the context window of {model.name}"
                    )
        return self

    @property
    def memory_capacity_gb(self) -> float:
        """GPU memory of the BS, the right side of (3)."""
        return self.n_gpus * self.gpu_memory_gb

    def accuracy_tables(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(a0, gain), each (M, I): zero-shot accuracy a0_{m,i} and CoT gain of eq. (20).

        Ours: perception accuracy of the service's modality x the model's reasoning
        accuracy, times `equivalent_match` on the equivalent model; 0 where m does not
        serve i.
        """
        a0 = np.zeros((len(self.models), len(self.services)))
        gain = np.zeros_like(a0)
        for i, service in enumerate(self.services):
            perception = IMAGEBIND_ACCURACY[service.modality]
            for m, match in ((service.best_model, 1.0), (service.equivalent_model, self.equivalent_match)):
                if m is None:
                    continue
                a0[m, i] = perception * self.models[m].zero_shot * match
                gain[m, i] = perception * self.models[m].cot_gain * match
        return a0, gain


def caching_config(data: dict[str, Any] | None = None) -> CachingConfig:
    """Validate a mapping; raise ConfigError with a one-line message naming the field."""
    return validate(CachingConfig, data, "caching config")


def scaled_config(base: CachingConfig | None = None, **changes: Any) -> CachingConfig:
    """`base` with some fields changed, services rebuilt when `n_services` is given.

    `n_services=k` swaps in `default_services(k, number of models)`; other keys are
    fields of CachingConfig. Validated like any config.
    """
    base = base or CachingConfig()
    data = base.model_dump()
    n_services = changes.pop("n_services", None)
    data.update(changes)
    if n_services is not None:
        data["services"] = [s.model_dump() for s in default_services(int(n_services), len(data["models"]))]
    return caching_config(data)
