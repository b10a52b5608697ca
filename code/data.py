"""Data sets of the worked examples: downloaded on first use, checked by hash, cached.

``solubility.npz`` (protein sequences labelled soluble or insoluble, from the protein-solubility
example of *Deep Learning for Molecules and Materials*) is fetched with ``pooch`` from its public
address, its sha256 is checked, and it is kept in a per-user cache (``~/.cache/layers-cheatsheet``
on Linux; the environment variable ``LAYERS_DATA_CACHE`` moves it). It is never part of the
repository.

A machine without network (CI, a laptop on a train) seeds the cache from a folder that holds
the file: set ``LAYERS_DATA_SEED=/path/to/folder``; the file is checked against the same hash
and copied into the cache. The project's CI points it at ``../shared/data``.
"""

import hashlib
import os
import shutil
from pathlib import Path

SOLUBILITY_FILE = "solubility.npz"
SOLUBILITY_URL = "https://github.com/whitead/dmol-book/raw/main/data/solubility.npz"
SOLUBILITY_SHA256 = "37b2e198e5d28a7468c67d7599c88f4ab4c37d8d2481be7fb314f40caeaf085d"

CACHE_ENV = "LAYERS_DATA_CACHE"  # overrides the cache folder
SEED_ENV = "LAYERS_DATA_SEED"  # a folder holding the data files, for machines without network


class DataUnavailableError(RuntimeError):
    """The data file is neither in the cache, nor in the seed folder, nor downloadable."""


def cache_dir():
    """The folder that holds downloaded data files (created on first use)."""
    import pooch

    return Path(os.environ.get(CACHE_ENV) or pooch.os_cache("layers-cheatsheet"))


def sha256(path):
    """The sha256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _seed_cache(name, expected, cache):
    """Copy ``name`` from the folder named by LAYERS_DATA_SEED into the cache, if it is there.

    The seed file must have the expected hash: a wrong file is an error, not a silent download.
    """
    seed = os.environ.get(SEED_ENV)
    if not seed:
        return
    source = Path(seed).expanduser() / name
    if not source.is_file():
        return  # the seed folder does not have this file; the download may still work
    actual = sha256(source)
    if actual != expected:
        raise DataUnavailableError(
            f"{source} (from {SEED_ENV}) has sha256 {actual}, expected {expected}: "
            f"it is not the file this project was written for. Replace it with the file "
            f"downloaded from {SOLUBILITY_URL}."
        )
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / name
    if not target.is_file() or sha256(target) != expected:
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)  # atomic: a half-copied file is never seen under the real name


def fetch(name=SOLUBILITY_FILE, url=SOLUBILITY_URL, expected_sha256=SOLUBILITY_SHA256):
    """Path to the cached data file ``name``: seeded, cached or downloaded, always hash-checked."""
    import pooch

    cache = cache_dir()
    _seed_cache(name, expected_sha256, cache)
    try:
        path = pooch.retrieve(url, known_hash=f"sha256:{expected_sha256}", fname=name,
                              path=cache, progressbar=False)
    except ValueError:
        raise  # pooch: the downloaded file has another hash; its message says which
    except Exception as error:  # no network, host unreachable, HTTP error
        raise DataUnavailableError(
            f"{name} is not in the data cache ({cache}) and could not be downloaded from "
            f"{url} ({type(error).__name__}: {error}).\n"
            f"On a machine without network, seed the cache from a folder that holds {name} "
            f"(sha256 {expected_sha256}):\n"
            f"    export {SEED_ENV}=/path/to/folder   # the project's CI uses ../shared/data\n"
            f"then build again; the file is checked and copied into the cache."
        ) from error
    return Path(path)


def load_solubility():
    """The protein-solubility data: ``(positives, negatives)``, integer arrays ``(n, 200)``.

    Each row is a protein sequence, one token per amino acid (1 to 20), padded with 0 to
    length 200; ``positives`` are soluble proteins, ``negatives`` insoluble ones.
    """
    import numpy as np

    with np.load(fetch()) as data:
        return data["positives"], data["negatives"]
