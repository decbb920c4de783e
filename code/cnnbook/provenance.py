"""Provenance of an executed page: profile, data (real or stand-in), device, seed, time, versions.

Every experiment page starts a ``Provenance`` in its first cell and shows ``.box()`` in its last;
the box is rendered in the page's language by the book (``cnnbook.book.mime``).
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Iterable

import torch

from cnnbook.profiles import Profile, get_profile

PROVENANCE_MIME = "application/vnd.cnnbook.provenance+json"
#: The order of the "Versions" entry of the box.
VERSION_ORDER = ("python", "torch", "cnnbook", "sympy", "numpy")


@dataclass(frozen=True)
class DataSource:
    """A data set used on a page: its name, whether it is real, and its size. A data set that is
    not real either stands in for one (``stands_in_for``) or is procedural in its own right."""

    name: str
    real: bool
    size: str
    stands_in_for: str = ""


@dataclass
class Provenance:
    """Collects what produced a page's outputs; ``box()`` displays it."""

    profile: Profile
    seed: int
    data: list[DataSource] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def start(cls, seed: int | None = None, data: Iterable[DataSource] = ()) -> "Provenance":
        """Begin timing a page under the active profile; seeds torch with ``seed``."""
        profile = get_profile()
        seed = profile.seed if seed is None else seed
        torch.manual_seed(seed)
        return cls(profile=profile, seed=seed, data=list(data))

    def uses(self, source: DataSource) -> None:
        """Record a data set used later on the page."""
        if source not in self.data:
            self.data.append(source)

    def record(self) -> dict:
        """The provenance as plain data (what the box shows)."""
        # a list of pairs, not a mapping: a notebook stored as JSON keeps list order (its mappings
        # may come back sorted), so the box lists the versions in this order on every build
        versions = [["python", platform.python_version()], ["torch", torch.__version__]]
        versions += [[package, metadata.version(package)] for package in VERSION_ORDER[2:]]
        return {
            "profile": self.profile.name,
            "data": [asdict(source) for source in self.data],
            "device": self.profile.device,
            "seed": self.seed,
            "wall_time": round(time.perf_counter() - self.started, 1),
            "versions": versions,
        }

    def box(self) -> "ProvenanceBox":
        """A displayable box; the wall time is measured up to this call."""
        return ProvenanceBox(self.record())


def version_pairs(versions: list | dict) -> list[tuple[str, str]]:
    """``(package, version)`` in the box's order, from a record's list (or a mapping cached by an
    older ``record``, whose order a JSON round trip may have changed)."""
    pairs = [tuple(pair) for pair in (versions.items() if isinstance(versions, dict) else versions)]
    rank = {name: i for i, name in enumerate(VERSION_ORDER)}
    return sorted(pairs, key=lambda pair: (rank.get(pair[0], len(rank)), pair[0]))


class ProvenanceBox:
    """Display object for a provenance record (custom mime type plus a plain-text fallback)."""

    def __init__(self, record: dict):
        self.record = record

    def _repr_mimebundle_(self, include=None, exclude=None):
        r = self.record
        data = "; ".join(d["name"] for d in r["data"]) or "none"
        text = (f"profile={r['profile']} data={data} device={r['device']} seed={r['seed']} "
                f"wall_time={r['wall_time']}s " + " ".join(f"{k}={v}" for k, v in version_pairs(r["versions"])))
        return {PROVENANCE_MIME: r, "text/plain": text}
