"""The AI service catalogue: hosted AI services, known by the domains their traffic goes to.

The knowledge lives in ``aiposture/data/ai_services.yaml`` (the file's header
explains its fields); this module validates it once and answers the questions
log scanning asks: which service does this host belong to, and which services
did the configuration sanction.

Matching a host (:meth:`ServiceCatalogue.match`) costs one dictionary lookup
per label of the host, whatever the size of the catalogue: the host is
normalised (case, trailing dot, port, user info, IDNA), then each of its
suffixes is looked up, longest first, so the most specific domain wins
(``chat.mistral.ai`` is Le Chat, ``api.mistral.ai`` the Mistral API) and a
look-alike never matches (``notopenai.com``, ``openai.com.evil.net``). The few
patterns with a ``*`` are indexed by their literal tail (``amazonaws.com``)
and only tried on hosts that end with it. Answers are remembered, since a log
names the same hosts millions of times.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aiposture.discovery.catalog import load_catalog
from aiposture.errors import ConfigError, NotFoundError

__all__ = [
    "CATEGORIES",
    "SHARED_DOMAINS",
    "ServiceCatalogue",
    "ServiceEntry",
    "load_services",
    "normalise_host",
]

Category = Literal[
    "llm_api",
    "chat_assistant",
    "code_assistant",
    "image_generation",
    "video_generation",
    "voice_audio",
    "meeting_assistant",
    "writing_assistant",
    "browser_extension",
    "search_assistant",
    "model_hub",
    "inference_platform",
    "agent_platform",
    "translation",
    "productivity_ai",
    "ai_gateway",
    "ml_platform",
    "vector_database",
]
#: Every category a service may have.
CATEGORIES: tuple[str, ...] = get_args(Category)

#: Domains shared by many unrelated services (cloud hosting, big platforms): the
#: catalogue may name specific hosts under them, never the whole domain.
SHARED_DOMAINS: frozenset[str] = frozenset(
    {
        "adobe.com",
        "adobe.io",
        "akamaihd.net",
        "akamaized.net",
        "aliyun.com",
        "aliyuncs.com",
        "amazon.com",
        "amazonaws.com",
        "apple.com",
        "azure.com",
        "azureedge.net",
        "azurewebsites.net",
        "baidu.com",
        "baidubce.com",
        "bing.com",
        "capcut.com",
        "cloud.ibm.com",
        "cloud.microsoft",
        "cloudflare.com",
        "cloudfront.net",
        "facebook.com",
        "fastly.net",
        "github.com",
        "githubusercontent.com",
        "gitlab.com",
        "google",
        "google.com",
        "googleapis.com",
        "googleusercontent.com",
        "gstatic.com",
        "ibm.com",
        "live.com",
        "microsoft.com",
        "naver.com",
        "notion.so",
        "nvidia.com",
        "office.com",
        "office.net",
        "slack.com",
        "tencent.com",
        "twitter.com",
        "vercel.app",
        "windows.net",
        "x.com",
        "yandex.com",
        "yandex.net",
        "yandex.ru",
        "zoom.us",
    }
)

_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_PATTERN_LABEL = re.compile(r"[a-z0-9*](?:[a-z0-9*-]*[a-z0-9*])?")
#: Remembered answers of :meth:`ServiceCatalogue.match`; the memo is emptied when full.
_MEMO_LIMIT = 200_000


class ServiceEntry(BaseModel):
    """One AI service of the catalogue.

    Attributes:
        id: Unique id (kebab-case, or the provider id for a provider's API).
        name: Display name.
        vendor: Who runs the service.
        category: What kind of service it is (one of :data:`CATEGORIES`).
        domains: Domains and API hosts; each covers its subdomains. A ``*``
            inside a label matches any text within that label.
        provider: The provider of ``ai_catalog.yaml`` whose API this service is.
        notes: A caveat about what the domains cover.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = Field(min_length=1)
    vendor: str = Field(min_length=1)
    category: Category
    domains: tuple[str, ...] = Field(min_length=1)
    provider: str | None = None
    notes: str | None = None

    @field_validator("domains")
    @classmethod
    def _domains(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for raw in v:
            domain = raw.strip().lower().rstrip(".")
            _check_domain(domain)
            out.append(domain)
        return tuple(out)


def _check_domain(domain: str) -> None:
    if not domain.isascii():
        raise ValueError(f"domain {domain!r}: write it in ASCII (punycode, xn--...)")
    if domain in SHARED_DOMAINS:
        raise ValueError(
            f"domain {domain!r} is shared by many services; name the specific host instead"
        )
    labels = domain.split(".")
    if len(labels) < 2:
        raise ValueError(f"domain {domain!r}: a top-level domain alone is not a service")
    wild = "*" in domain
    for label in labels:
        if not (_PATTERN_LABEL if wild else _LABEL).fullmatch(label):
            raise ValueError(f"domain {domain!r}: bad label {label!r}")
    if wild:
        tail = _literal_tail(domain)
        if tail.count(".") < 1:
            raise ValueError(
                f"pattern {domain!r}: needs at least two literal labels after the last '*'"
            )


def _literal_tail(pattern: str) -> str:
    """The labels of ``pattern`` after its last label holding a ``*``."""
    labels = pattern.split(".")
    last = max(i for i, label in enumerate(labels) if "*" in label)
    return ".".join(labels[last + 1 :])


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for label in pattern.split("."):
        parts.append(
            "[^.]+" if label == "*" else "[^.]*".join(re.escape(p) for p in label.split("*"))
        )
    return re.compile(r"(?:[^.]+\.)*" + r"\.".join(parts))


def normalise_host(raw: str) -> str | None:
    """A host as the catalogue compares it, or None when there is no host name.

    Strips user info, brackets and the port, lower-cases, drops a trailing dot
    and encodes international names with IDNA (``xn--...``).

    Args:
        raw: A host as a log writes it: ``API.OpenAI.com.``, ``api.openai.com:443``,
            ``user@host``, ``[2001:db8::1]:443``, ``bücher.example``.
    """
    host = raw.strip()
    if "@" in host:
        host = host.rpartition("@")[2]
    if host.startswith("["):
        end = host.find("]")
        return host[1:end].lower() if end > 1 else None
    colons = host.count(":")
    if colons == 1:
        host = host.partition(":")[0]
    elif colons > 1:
        return host.lower()  # a bare IPv6 address
    host = host.rstrip(".").lower()
    if not host:
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host


@dataclass(frozen=True)
class _Wild:
    labels: int
    regex: re.Pattern[str]
    entry: ServiceEntry


class ServiceCatalogue:
    """The validated service catalogue and its host index.

    Build it with :func:`load_services` (the built-in file) or
    :meth:`from_data` (a mapping shaped like the file).
    """

    def __init__(self, version: int, services: Iterable[ServiceEntry]) -> None:
        self.version = version
        self._services: tuple[ServiceEntry, ...] = tuple(services)
        self._by_id: dict[str, ServiceEntry] = {}
        self._exact: dict[str, ServiceEntry] = {}
        self._wild: dict[str, list[_Wild]] = {}
        self._owner: dict[str, str] = {}
        self._memo: dict[str, ServiceEntry | None] = {}
        for entry in self._services:
            self._add(entry)

    def _add(self, entry: ServiceEntry) -> None:
        if entry.id in self._by_id:
            raise ConfigError(f"service {entry.id!r} is defined twice")
        self._by_id[entry.id] = entry
        for domain in entry.domains:
            owner = self._owner.get(domain)
            if owner is not None:
                who = "twice" if owner == entry.id else f"by service {owner!r} too"
                raise ConfigError(f"service {entry.id!r}: domain {domain!r} is claimed {who}")
            self._owner[domain] = entry.id
            if "*" in domain:
                wild = _Wild(domain.count(".") + 1, _pattern_regex(domain), entry)
                self._wild.setdefault(_literal_tail(domain), []).append(wild)
            else:
                self._exact[domain] = entry

    # -- construction ----------------------------------------------------------
    @classmethod
    def from_data(cls, raw: Any, *, source: str = "ai_services.yaml") -> ServiceCatalogue:
        """Validate a catalogue given as data (the parsed YAML file).

        Raises:
            ConfigError: The data is not a catalogue, or an entry is invalid (the
                message names the entry: a bad field, a bad category, a duplicate
                id, a domain claimed by two services, an unknown provider id, an
                id that takes a provider's id without being its API).
        """
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a mapping with 'version' and 'services'")
        unknown = set(raw) - {"version", "services"}
        if unknown:
            raise ConfigError(f"{source}: unknown top-level keys {sorted(unknown)}")
        version = raw.get("version")
        if version != 1:
            raise ConfigError(f"{source}: version {version!r} is not supported (expected 1)")
        items = raw.get("services")
        if not isinstance(items, list):
            raise ConfigError(f"{source}: 'services' must be a list")
        providers = set(load_catalog().providers)
        entries: list[ServiceEntry] = []
        for n, item in enumerate(items, 1):
            label = _entry_label(n, item)
            try:
                entry = ServiceEntry.model_validate(item)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}"
                    for err in exc.errors()
                )
                raise ConfigError(f"{source}: {label}: {problems}") from None
            _check_identity(entry, providers, f"{source}: {label}")
            entries.append(entry)
        try:
            return cls(version, entries)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    # -- lookups -----------------------------------------------------------------
    def all(self) -> tuple[ServiceEntry, ...]:
        """Every service, in catalogue order."""
        return self._services

    def __len__(self) -> int:
        return len(self._services)

    def __contains__(self, service_id: object) -> bool:
        return service_id in self._by_id

    def get(self, service_id: str) -> ServiceEntry:
        """The service with this id.

        Raises:
            NotFoundError: No service has this id.
        """
        try:
            return self._by_id[service_id]
        except KeyError:
            hint = difflib.get_close_matches(service_id, list(self._by_id), n=3)
            extra = f"; did you mean {', '.join(hint)}?" if hint else ""
            raise NotFoundError(
                f"no AI service {service_id!r} in the service catalogue{extra}"
            ) from None

    def match(self, host: str) -> ServiceEntry | None:
        """The service ``host`` belongs to, or None.

        Args:
            host: A host name as a log writes it (any case, with or without a
                port or trailing dot, IDNA or Unicode).
        """
        memo = self._memo
        hit = memo.get(host, _MISSING)
        if hit is not _MISSING:
            return hit  # type: ignore[return-value]
        norm = normalise_host(host)
        found = self._lookup(norm) if norm else None
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[host] = found
        return found

    def _lookup(self, host: str) -> ServiceEntry | None:
        exact = self._exact
        best: ServiceEntry | None = None
        best_labels = 0
        suffix = host
        labels = host.count(".") + 1
        while True:
            hit = exact.get(suffix)
            if hit is not None:
                best, best_labels = hit, labels
                break
            dot = suffix.find(".")
            if dot < 0:
                break
            suffix = suffix[dot + 1 :]
            labels -= 1
        if self._wild:
            suffix = host
            while True:
                for wild in self._wild.get(suffix, ()):
                    if wild.labels > best_labels and wild.regex.fullmatch(host):
                        best, best_labels = wild.entry, wild.labels
                dot = suffix.find(".")
                if dot < 0:
                    break
                suffix = suffix[dot + 1 :]
        return best

    def resolve_sanctioned(self, names: Iterable[str]) -> frozenset[str]:
        """The ids of the services a configuration's sanctioned list names.

        Each name is a service id (``openai``, ``github-copilot``) or a domain; a
        domain names the service that owns it (``chat.openai.com`` is ChatGPT,
        ``eu.api.openai.com`` the OpenAI API).

        Raises:
            ConfigError: A name is neither a service id nor a catalogued domain
                (all such names are listed, with close ids where there are some).
        """
        out: set[str] = set()
        bad: list[str] = []
        for name in names:
            clean = name.strip()
            if clean in self._by_id:
                out.add(clean)
                continue
            entry = self.match(clean) if "." in clean else None
            if entry is None:
                hint = difflib.get_close_matches(clean.lower(), list(self._by_id), n=2)
                bad.append(f"{name!r}" + (f" (did you mean {' or '.join(hint)}?)" if hint else ""))
            else:
                out.add(entry.id)
        if bad:
            raise ConfigError(
                "discovery.sanctioned_services: not a service id or a catalogued domain: "
                + ", ".join(bad)
            )
        return frozenset(out)


_MISSING = object()


def _entry_label(n: int, item: Any) -> str:
    ident = item.get("id") if isinstance(item, dict) else None
    return f"service #{n}" + (f" ({ident!r})" if ident else "")


def _check_identity(entry: ServiceEntry, providers: set[str], where: str) -> None:
    if entry.provider is not None:
        if entry.provider not in providers:
            raise ConfigError(
                f"{where}: unknown provider {entry.provider!r} (not in ai_catalog.yaml)"
            )
        if entry.id != entry.provider:
            raise ConfigError(
                f"{where}: a provider's API takes the provider's id; use id {entry.provider!r}"
            )
        return
    if entry.id in providers:
        raise ConfigError(
            f"{where}: id {entry.id!r} is a provider id of ai_catalog.yaml; set "
            f"provider: {entry.id} if this is its API, or choose another id"
        )
    if not _ID.fullmatch(entry.id):
        raise ConfigError(f"{where}: id {entry.id!r} is not kebab-case")


@cache
def load_services() -> ServiceCatalogue:
    """The built-in service catalogue, validated (loaded once per process).

    Raises:
        ConfigError: The catalogue file is invalid (the message names the entry).
    """
    text = files("aiposture.data").joinpath("ai_services.yaml").read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"ai_services.yaml is not valid YAML: {exc}") from exc
    return ServiceCatalogue.from_data(raw)
