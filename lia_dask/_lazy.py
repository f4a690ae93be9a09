"""Package attributes that resolve on first use (PEP 562), so importing a package stays cheap."""
from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_names(package: str, where: dict[str, str], namespace: dict) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose public names live in submodules.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    where : dict
        Public name -> submodule (relative to the package) that defines it.
    namespace : dict
        The package's ``globals()``; a resolved name is stored there, so it resolves once.
    """

    def __getattr__(name: str) -> Any:
        sub = where.get(name)
        if sub is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{sub}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
