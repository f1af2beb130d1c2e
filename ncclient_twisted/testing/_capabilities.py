"""
What a test server offers: its options, and the capabilities and ietf-netconf
features they advertise.
"""

from __future__ import annotations

from typing import Iterable, List, Mapping, Optional, Sequence

from ._schemas import SchemaInput, Schemas
from ._xml import BASE_1_0, BASE_1_1

CAPABILITY = "urn:ietf:params:netconf:capability:"


class Options:
    """Server configuration that shapes capabilities and operations."""

    def __init__(
        self,
        *,
        base_versions: Sequence[str] = ("1.0", "1.1"),
        writable_running: bool = True,
        candidate: bool = True,
        startup: bool = True,
        extra_capabilities: Iterable[str] = (),
        interleave: bool = True,
        schemas: Optional[Mapping[str, SchemaInput]] = None,
        xpath_local_names: bool = True,
    ) -> None:
        versions = tuple(base_versions)
        if not versions or any(v not in ("1.0", "1.1") for v in versions):
            raise ValueError("base_versions must be a non-empty subset of ('1.0', '1.1')")
        self.base_versions = versions
        self.writable_running = writable_running
        self.candidate = candidate
        self.startup = startup
        self.extra_capabilities = tuple(extra_capabilities)
        self.interleave = interleave
        self.xpath_local_names = xpath_local_names
        self.schemas = Schemas(
            ietf_netconf_features=self._ietf_netconf_features(), interleave=interleave, extra=schemas
        )

    def _ietf_netconf_features(self) -> List[str]:
        """The features of the ietf-netconf module this server implements."""
        features: List[str] = []
        if self.writable_running:
            features.append("writable-running")
        if self.candidate:
            features += ["candidate", "confirmed-commit"]
        features += ["rollback-on-error", "validate"]
        if self.startup:
            features.append("startup")
        features.append("xpath")
        return features

    def capabilities(self) -> List[str]:
        """The capability URIs advertised in the server ``<hello>``."""
        caps: List[str] = []
        if "1.0" in self.base_versions:
            caps.append(BASE_1_0)
        if "1.1" in self.base_versions:
            caps.append(BASE_1_1)
        if self.writable_running:
            caps.append(CAPABILITY + "writable-running:1.0")
        if self.candidate:
            caps.append(CAPABILITY + "candidate:1.0")
            caps.append(CAPABILITY + "confirmed-commit:1.1")
        caps.append(CAPABILITY + "rollback-on-error:1.0")
        caps.append(CAPABILITY + "validate:1.1")
        if self.startup:
            caps.append(CAPABILITY + "startup:1.0")
        caps.append(CAPABILITY + "xpath:1.0")
        caps.append(CAPABILITY + "notification:1.0")
        if self.interleave:
            caps.append(CAPABILITY + "interleave:1.0")
        caps.extend(self.schemas.capabilities())
        for cap in self.extra_capabilities:
            if cap not in caps:
                caps.append(cap)
        return caps
