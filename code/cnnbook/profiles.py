"""Execution profiles: the one place that says how big, how real and where an experiment runs.

``quick`` (default) runs offline on a CPU in minutes with embedded or procedural data;
``full`` uses the real data sets (downloaded by torchvision) and a GPU when there is one.
Select with the environment variable ``BOOK_PROFILE`` or ``cnnbook run --profile``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROFILE_ENV = "BOOK_PROFILE"
DATA_ENV = "CNNBOOK_DATA"  # folder of the real data sets (torchvision's layout); default <repository>/data
CACHE_ENV = "CNNBOOK_CACHE"  # folder of finished training runs; default <repository>/.cnnbook
_REPOSITORY = Path(__file__).resolve().parents[2]  # the clone cnnbook is installed from (editable install)


class ProfileError(ValueError):
    """An unknown profile name."""


@dataclass(frozen=True)
class Profile:
    """Settings shared by every experiment page."""

    name: str
    description: str
    real_data: bool  # True: real downloaded data sets; False: embedded data and stand-ins
    prefer_gpu: bool
    seed: int = 0

    @property
    def device(self) -> str:
        """``cuda`` when the profile wants a GPU and one is present, else ``cpu``."""
        import torch

        return "cuda" if self.prefer_gpu and torch.cuda.is_available() else "cpu"

    def epochs(self, quick: int, full: int) -> int:
        """Epoch budget of an experiment: its quick or full value."""
        return full if self.real_data else quick


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        description="CPU, offline, minutes: embedded data (MNIST's 5,000-image subset, scikit-learn digits, "
        "scikit-image photos) "
        "and procedural stand-ins",
        real_data=False,
        prefer_gpu=False,
    ),
    "full": Profile(
        name="full",
        description="real data sets downloaded by torchvision (MNIST, CIFAR-10/100, STL-10), "
        "GPU recommended",
        real_data=True,
        prefer_gpu=True,
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, or the one selected by ``BOOK_PROFILE`` (default ``quick``)."""
    name = name or os.environ.get(PROFILE_ENV) or "quick"
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}") from None


def data_dir() -> Path:
    """Where the real data sets live (``$CNNBOOK_DATA``, default ``data/`` in the repository; git-ignored)."""
    return Path(os.environ.get(DATA_ENV) or _REPOSITORY / "data")


def cache_dir() -> Path:
    """Where finished training runs are cached (``$CNNBOOK_CACHE``, default ``.cnnbook/``; git-ignored)."""
    return Path(os.environ.get(CACHE_ENV) or _REPOSITORY / ".cnnbook")
