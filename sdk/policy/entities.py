"""The inventory and the principals as Cedar entities.

Every current asset becomes a resource entity whose type follows its kind
(:data:`RESOURCE_TYPES`: ``Model``, ``Dataset``, ``Endpoint``, ``McpServer``...) and
whose id is the asset id. Its attributes, all always present:

========================  ====================================================================
``id``, ``name``          the asset's id and name
``kind``                  the asset kind (``"model"``)
``sensitivity``           its data sensitivity; ``sensitivity_rank`` public 0 .. restricted 3,
                          unknown -1
``environment``           ``dev``, ``staging``, ``prod`` or ``unknown``
``owner``, ``provider``   ``""`` when unknown
``sanctioned``            ``sanctioned``, ``unsanctioned`` or ``unknown``
``tags``                  set of tags; ``use_cases`` set of use cases (``use_case:<x>`` tags
                          and the ``use_case`` attribute)
``trained_on``            highest sensitivity of the data the model was trained on (through
                          the model it derives from too), ``"none"`` without training data;
                          ``trained_on_rank`` as a number (-1 for none or unknown)
``third_party``           hosted by a third party (a vendor API), see :func:`is_third_party`
``region``                the ``region`` attribute or ``region:<x>`` tag, ``""`` when unknown
========================  ====================================================================

Principals are ``User``, ``Group``, ``Service`` and ``Agent`` entities, members of
their ``Group`` entities, with attributes ``name`` and ``type`` plus their own.
Actions are ``Action::"query"``, ``"deploy"``, ``"modify"``, ``"train"``,
``"export"`` and ``"approve"``. :data:`DEFAULT_SCHEMA` declares all of this; copy it
to ``schema.cedarschema`` in a policy folder to have policies type-checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aiposture.models import Asset, AssetKind, Relation, RelationKind, Sensitivity
from aiposture.policy.models import Action, Principal, PrincipalType, sensitivity_rank
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules._common import attr_bool, attr_list, attr_str, has_tag

__all__ = [
    "DEFAULT_SCHEMA",
    "PRINCIPAL_TYPES",
    "RESOURCE_TYPES",
    "asset_attributes",
    "asset_entity",
    "build_entities",
    "highest_training_sensitivity",
    "is_third_party",
    "principal_entity",
    "principal_uid",
    "region_of",
    "resource_uid",
    "use_cases",
]

RESOURCE_TYPES: dict[AssetKind, str] = {
    AssetKind.MODEL: "Model",
    AssetKind.MODEL_FILE: "ModelFile",
    AssetKind.DATASET: "Dataset",
    AssetKind.AI_SERVICE: "AiService",
    AssetKind.APPLICATION: "Application",
    AssetKind.AGENT: "AiAgent",
    AssetKind.MCP_SERVER: "McpServer",
    AssetKind.NOTEBOOK: "Notebook",
    AssetKind.ENDPOINT: "Endpoint",
    AssetKind.CREDENTIAL: "Credential",
    AssetKind.PACKAGE: "Package",
    AssetKind.DATASET_INDEX: "DatasetIndex",
}
PRINCIPAL_TYPES: dict[PrincipalType, str] = {
    PrincipalType.USER: "User",
    PrincipalType.GROUP: "Group",
    PrincipalType.SERVICE: "Service",
    PrincipalType.AGENT: "Agent",
}
#: Providers whose models run where the organisation puts them (weights downloaded).
_SELF_RUN_PROVIDERS = frozenset({"huggingface", "meta", "ollama", "local"})

_RESOURCE_ATTRS = """
  id: String, name: String, kind: String,
  sensitivity: String, sensitivity_rank: Long,
  environment: String, owner: String, provider: String, sanctioned: String,
  tags: Set<String>, use_cases: Set<String>,
  trained_on: String, trained_on_rank: Long,
  third_party: Bool, region: String,
"""

#: A Cedar schema of the entities aiposture builds (principals may carry more attributes
#: than ``name`` and ``type``: declare them in your copy).
DEFAULT_SCHEMA = (
    "entity Group { name: String, type: String };\n"
    "entity User, Service, Agent in [Group] { name: String, type: String };\n"
    + "".join(f"entity {t} {{{_RESOURCE_ATTRS}}};\n" for t in sorted(set(RESOURCE_TYPES.values())))
    + "".join(
        f'action "{a.value}" appliesTo {{\n'
        "  principal: [User, Group, Service, Agent],\n"
        f"  resource: [{', '.join(sorted(set(RESOURCE_TYPES.values())))}],\n"
        "  context: {}\n};\n"
        for a in Action
    )
)


def resource_uid(asset: Asset) -> dict[str, str]:
    """The Cedar uid of an asset."""
    return {"type": RESOURCE_TYPES[asset.kind], "id": asset.id}


def principal_uid(principal: Principal) -> dict[str, str]:
    """The Cedar uid of a principal."""
    return {"type": PRINCIPAL_TYPES[principal.type], "id": principal.id}


def highest_training_sensitivity(graph: EstateGraph, asset: Asset) -> Sensitivity | None:
    """The most sensitive data class the model learned from (None without training data).

    Training data is what the model, or a model it derives from, is ``trained_on``.
    """
    data = list(graph.out(asset.id, RelationKind.TRAINED_ON))
    for base in graph.out(asset.id, RelationKind.DERIVED_FROM):
        data.extend(graph.out(base.asset.id, RelationKind.TRAINED_ON))
    if not data:
        return None
    return max((n.asset.data_sensitivity for n in data), key=sensitivity_rank)


def is_third_party(asset: Asset, graph: EstateGraph | None = None) -> bool:
    """Whether the asset is hosted by a third party.

    An explicit tag or attribute decides first (``self-hosted`` / ``self_hosted``,
    ``third-party`` / ``third_party``). Otherwise an AI service is third party unless
    local (Ollama); a model is when its provider is a vendor API (OpenAI, Anthropic,
    Bedrock...; not Hugging Face or Meta weights run locally) or when a third-party AI
    service ``serves`` it.
    """
    if has_tag(asset, "self-hosted") or attr_bool(asset, "self_hosted") is True:
        return False
    flag = attr_bool(asset, "third_party")
    if flag is not None:
        return flag
    if has_tag(asset, "third-party"):
        return True
    provider = (asset.provider or "").casefold()
    if asset.kind is AssetKind.AI_SERVICE:
        return provider not in _SELF_RUN_PROVIDERS
    if asset.kind is AssetKind.MODEL:
        if provider and provider not in _SELF_RUN_PROVIDERS:
            return True
        if graph is not None:
            return any(
                n.asset.kind is AssetKind.AI_SERVICE and is_third_party(n.asset)
                for n in graph.into(asset.id, RelationKind.SERVES)
            )
    return False


def region_of(asset: Asset) -> str:
    """The asset's region (attribute ``region`` or tag ``region:<x>``), ``""`` if unknown."""
    region = attr_str(asset, "region")
    if region:
        return region
    for tag in asset.tags:
        if tag.casefold().startswith("region:"):
            return tag.split(":", 1)[1].strip()
    return ""


def use_cases(asset: Asset) -> list[str]:
    """Use cases of the asset (tags ``use_case:<x>`` and the ``use_case(s)`` attribute)."""
    out = [t.split(":", 1)[1].strip() for t in asset.tags if t.casefold().startswith("use_case:")]
    out += attr_list(asset, "use_case") + attr_list(asset, "use_cases")
    return list(dict.fromkeys(x for x in out if x))


def asset_attributes(asset: Asset, graph: EstateGraph | None = None) -> dict[str, Any]:
    """The Cedar attributes of an asset (see the module docstring)."""
    trained = highest_training_sensitivity(graph, asset) if graph is not None else None
    return {
        "id": asset.id,
        "name": asset.name,
        "kind": asset.kind.value,
        "sensitivity": asset.data_sensitivity.value,
        "sensitivity_rank": sensitivity_rank(asset.data_sensitivity),
        "environment": asset.environment.value,
        "owner": asset.owner or "",
        "provider": asset.provider or "",
        "sanctioned": asset.sanctioned.value,
        "tags": sorted(set(asset.tags)),
        "use_cases": use_cases(asset),
        "trained_on": trained.value if trained is not None else "none",
        "trained_on_rank": sensitivity_rank(trained) if trained is not None else -1,
        "third_party": is_third_party(asset, graph),
        "region": region_of(asset),
    }


def asset_entity(asset: Asset, graph: EstateGraph | None = None) -> dict[str, Any]:
    """An asset as a Cedar entity (JSON form)."""
    return {"uid": resource_uid(asset), "attrs": asset_attributes(asset, graph), "parents": []}


def principal_entity(principal: Principal) -> dict[str, Any]:
    """A principal as a Cedar entity (JSON form), member of its groups."""
    attrs: dict[str, Any] = {**principal.attributes, "name": principal.id}
    attrs["type"] = principal.type.value
    return {
        "uid": principal_uid(principal),
        "attrs": attrs,
        "parents": [{"type": "Group", "id": g} for g in principal.groups],
    }


def build_entities(
    assets: Iterable[Asset],
    relations: Iterable[Relation] = (),
    principals: Sequence[Principal] = (),
) -> list[dict[str, Any]]:
    """Every current asset, every principal and every group they name, as Cedar entities."""
    current = [a for a in assets if not a.stale]
    graph = EstateGraph.build(current, relations)
    out = [asset_entity(a, graph) for a in current]
    groups = {g for p in principals for g in p.groups}
    declared = {p.id for p in principals if p.type is PrincipalType.GROUP}
    out += [principal_entity(p) for p in principals]
    out += [
        principal_entity(Principal(id=g, type=PrincipalType.GROUP))
        for g in sorted(groups - declared)
    ]
    return out
