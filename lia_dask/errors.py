"""One root error for the package; each subclass also inherits the built-in error it means.

Every message is one sentence that names the file, column or object at fault and says what to do.
"""
from __future__ import annotations


class LiaDaskError(Exception):
    """Root of every error raised on purpose by lia_dask."""


class InputError(LiaDaskError, ValueError):
    """An argument, file or column holds a value lia_dask cannot use."""


class MissingInputError(LiaDaskError, FileNotFoundError):
    """A file, directory or archive that was named does not exist."""


class ArchiveError(LiaDaskError, ValueError):
    """A lightcurve archive or cutout store is corrupted or breaks the schema."""


class ArtifactError(LiaDaskError, ValueError):
    """A model artifact is missing parts, tampered with, or incompatible."""


class ConfigError(LiaDaskError, ValueError):
    """Cluster or stage configuration is incomplete or inconsistent."""


class MissingExtraError(LiaDaskError, ImportError):
    """An optional dependency (extra) is needed for the requested feature."""

    @classmethod
    def for_extra(cls, what: str, extra: str, module: str) -> "MissingExtraError":
        return cls(
            f"{what} needs the optional package '{module}'; install it with "
            f"`pip install lia-dask[{extra}]`."
        )


class PartitionError(LiaDaskError, RuntimeError):
    """An error inside one partition of a Dask job, wrapped with the partition's index and path."""

    def __init__(self, index: int, key: str, cause: BaseException):
        self.index = index
        self.key = key
        self.cause = cause
        super().__init__(
            f"partition {index} ({key}) failed with {type(cause).__name__}: {cause}; "
            f"rerun it alone with the single-partition path (e.g. `archive.read_batch({index})`) to debug."
        )

    def __reduce__(self):  # picklable across Dask workers
        return (PartitionError, (self.index, self.key, self.cause))
