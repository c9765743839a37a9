"""Access-check throughput: 1,000 Cedar policies over 10,000 resources.

In one run, on the same machine:

1. generate a seeded inventory of 10,000 assets (models, datasets, endpoints, MCP
   servers, AI services, applications; models trained on datasets) and 200 principals
   (users, services and agents in 50 groups), and a policy folder of 1,000 Cedar
   policies (team permits on owner and environment, forbids on sensitivity and
   training data, agent restrictions), loaded through :func:`load_policy`;
2. **engine, single**: :meth:`PolicyEngine.check` one request at a time;
3. **engine, batched**: :meth:`PolicyEngine.check_many` on all requests at once;
4. **cedarpy, single** with the same pre-parsed policies and entities (what the engine
   adds over Cedar itself);
5. **baseline: cedarpy with a trivial policy set** (one permit) on the same entities,
   single and batched;
6. **baseline: a Python dict lookup** of a precomputed allow-set (the cheapest possible
   decision, no policy evaluated).

Run alone: ``.venv/bin/python -m benchmarks.policy_bench`` (prints JSON).
"""

from __future__ import annotations

import json
import platform
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cedarpy

from aiposture.models import Asset, AssetKind, Environment, Relation, RelationKind, Sensitivity
from aiposture.policy.engine import PolicyEngine
from aiposture.policy.entities import build_entities, principal_uid, resource_uid
from aiposture.policy.loader import load_policy
from aiposture.policy.models import Action, Principal, PrincipalType

N_RESOURCES = 10_000
N_POLICIES = 1_000
N_PRINCIPALS = 200
N_GROUPS = 50
N_SINGLE = 1_000
N_BATCH = 4_000
SEED = 6

_KINDS = [
    (AssetKind.MODEL, 0.3),
    (AssetKind.DATASET, 0.2),
    (AssetKind.ENDPOINT, 0.15),
    (AssetKind.MCP_SERVER, 0.1),
    (AssetKind.AI_SERVICE, 0.05),
    (AssetKind.APPLICATION, 0.2),
]
_SENS = [Sensitivity.PUBLIC, Sensitivity.INTERNAL, Sensitivity.CONFIDENTIAL, Sensitivity.RESTRICTED]
_ENVS = [Environment.DEV, Environment.STAGING, Environment.PROD]


def _inventory(rng: random.Random) -> tuple[list[Asset], list[Relation]]:
    kinds = rng.choices([k for k, _ in _KINDS], weights=[w for _, w in _KINDS], k=N_RESOURCES)
    assets = [
        Asset.new(
            kind,
            f"{kind.value}-{i}",
            key=f"bench|{i}",
            provider=rng.choice(["openai", "huggingface", "anthropic", None]),
            owner=f"owner-{rng.randrange(N_POLICIES)}",
            environment=rng.choice(_ENVS),
            data_sensitivity=rng.choice(_SENS),
            tags=[f"team:{rng.randrange(N_GROUPS)}"],
        )
        for i, kind in enumerate(kinds)
    ]
    models = [a for a in assets if a.kind is AssetKind.MODEL]
    datasets = [a for a in assets if a.kind is AssetKind.DATASET]
    relations = [
        Relation.new(m.id, RelationKind.TRAINED_ON, rng.choice(datasets).id) for m in models
    ]
    return assets, relations


def _principals(rng: random.Random) -> list[Principal]:
    types = [PrincipalType.USER] * 8 + [PrincipalType.SERVICE, PrincipalType.AGENT]
    return [
        Principal(
            id=f"p{i}",
            type=rng.choice(types),
            groups=tuple(f"g{g}" for g in rng.sample(range(N_GROUPS), 2)),
        )
        for i in range(N_PRINCIPALS)
    ]


def _policies(rng: random.Random) -> str:
    out = []
    for i in range(N_POLICIES):
        g = rng.randrange(N_GROUPS)
        act = rng.choice(list(Action)).value
        shape = i % 4
        if shape == 0:
            out.append(
                f'permit(principal in Group::"g{g}", action == Action::"{act}", resource)\n'
                f'  when {{ resource.owner == "owner-{i}" }};'
            )
        elif shape == 1:
            env = rng.choice(_ENVS).value
            out.append(
                f'permit(principal in Group::"g{g}", action == Action::"{act}", resource)\n'
                f'  when {{ resource.environment == "{env}" && '
                f'resource.tags.contains("team:{g}") }};'
            )
        elif shape == 2:
            out.append(
                f'forbid(principal, action == Action::"{act}", resource is Model)\n'
                "  when { resource.trained_on_rank >= 3 }"
                f' unless {{ principal in Group::"g{g}" }};'
            )
        else:
            out.append(
                f'forbid(principal is Agent, action == Action::"{act}", resource)\n'
                f"  when {{ resource.sensitivity_rank >= {rng.randrange(4)} }};"
            )
    return "\n\n".join(out) + "\n"


def _rate(n: int, fn: Callable[[], object], rounds: int = 2) -> dict[str, float]:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return {"decisions": n, "seconds": round(best, 4), "per_second": round(n / best, 1)}


def run(work: Path) -> dict[str, Any]:
    """Generate the inventory and policies in ``work``, time every way of deciding."""
    rng = random.Random(SEED)
    assets, relations = _inventory(rng)
    principals = _principals(rng)
    folder = work / "policy-bench"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "access.cedar").write_text(_policies(rng), encoding="utf-8")

    t0 = time.perf_counter()
    policy = load_policy(folder)
    load_s = time.perf_counter() - t0
    engine = PolicyEngine(policy, assets=assets, relations=relations, principals=principals)
    t0 = time.perf_counter()
    engine.check(principals[0], "query", assets[0])  # builds the entities and the policy set
    setup_s = time.perf_counter() - t0

    acts = list(Action)
    requests = [
        (rng.choice(principals), rng.choice(acts), rng.choice(assets)) for _ in range(N_BATCH)
    ]
    single = requests[:N_SINGLE]

    def engine_single() -> None:
        for p, a, r in single:
            engine.check(p, a, r)

    batch_decisions: list[bool] = []

    def engine_batch() -> None:
        batch_decisions[:] = [d.allowed for d in engine.check_many(requests)]

    cedar_policies = cedarpy.PolicySet.from_json_str(json.dumps(policy.cedar_json()))
    entities = cedarpy.Entities.from_json_str(
        json.dumps(build_entities(assets, relations, principals))
    )
    trivial = cedarpy.PolicySet.from_str("permit(principal, action, resource);")
    raw = [
        {
            "principal": principal_uid(p),
            "action": {"type": "Action", "id": a.value},
            "resource": resource_uid(r),
            "context": {},
        }
        for p, a, r in requests
    ]

    def cedar_single(ps: cedarpy.PolicySet) -> Callable[[], None]:
        def go() -> None:
            for req in raw[:N_SINGLE]:
                cedarpy.is_authorized(req, ps, entities)

        return go

    def cedar_batch(ps: cedarpy.PolicySet) -> Callable[[], None]:
        def go() -> None:
            for i in range(0, len(raw), 1_000):
                cedarpy.is_authorized_batch(raw[i : i + 1_000], ps, entities)

        return go

    figures = {
        "engine_single": _rate(N_SINGLE, engine_single),
        "engine_batched": _rate(N_BATCH, engine_batch),
        "cedarpy_single": _rate(N_SINGLE, cedar_single(cedar_policies)),
        "cedarpy_batched": _rate(N_BATCH, cedar_batch(cedar_policies)),
        "baseline_trivial_policy_single": _rate(N_SINGLE, cedar_single(trivial)),
        "baseline_trivial_policy_batched": _rate(N_BATCH, cedar_batch(trivial)),
    }
    allow = {
        (p.id, a.value, r.id) for (p, a, r), ok in zip(requests, batch_decisions, strict=True) if ok
    }
    keys = [(p.id, a.value, r.id) for p, a, r in requests]

    def dict_lookup() -> None:
        for k in keys:
            _ = k in allow

    figures["baseline_dict_lookup"] = _rate(N_BATCH, dict_lookup)
    return {
        "name": "policy_decisions",
        "resources": N_RESOURCES,
        "policies": len(policy.cedar),
        "principals": N_PRINCIPALS,
        "allowed_share": round(sum(batch_decisions) / len(batch_decisions), 3),
        "load_policy_seconds": round(load_s, 3),
        "first_check_seconds": round(setup_s, 3),
        "figures": figures,
        "python": platform.python_version(),
        "cedarpy": getattr(cedarpy, "__version__", None) or _version(),
    }


def _version() -> str:
    from importlib.metadata import version

    return version("cedarpy")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp)), indent=2))
