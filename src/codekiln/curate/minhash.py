"""MinHash signatures for many documents at once, and an LSH band index for near-duplicates.

The MinHash is datasketch's (`datasketch.MinHash(num_perm, seed, scheme="affine32")`): the same
permutations, the same MurmurHash3 pre-mix, the same values (a test checks this against `update_batch`);
it is only computed for a whole batch with numpy, one pass over all shingles per permutation, instead of
one document at a time. The band/row split for a Jaccard threshold comes from datasketch's LSH optimiser
(`datasketch.lsh._optimal_param`, what `MinHashLSH(threshold, num_perm, weights)` uses), weighted towards recall. The band tables themselves are plain
dicts keyed by a hash of (scope, band, band hash) so that one index serves every task without cross-task
lookups.
Candidates are confirmed by the estimated Jaccard (the fraction of equal signature values).

Shingles are k consecutive tokens. A token is hashed once per run (CRC32 of its text, cached) and a shingle's
hash mixes its tokens' hashes with numpy, so the cost is linear in the total number of tokens.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Sequence

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param
from datasketch.minhash import _fmix

from codekiln.curate.normalize import tokens

SEED = 1
_MIX = np.uint64(0x9E3779B97F4A7C15)


class _TokenHashes(dict):
    """token -> CRC32 of its UTF-8 text, computed on first use (lookups then stay in C)."""

    def __missing__(self, tok: str) -> int:
        h = self[tok] = zlib.crc32(tok.encode("utf-8", "surrogatepass"))
        return h


class Signer:
    """Computes MinHash signatures (num_perm uint32 values) of texts' token k-shingles."""

    def __init__(self, num_perm: int = 128, shingle: int = 3, seed: int = SEED) -> None:
        if num_perm < 2:
            raise ValueError("num_perm must be at least 2")
        self.num_perm = num_perm
        self.shingle = max(1, shingle)
        self.seed = seed
        self.a, self.b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self._token_hash = _TokenHashes()

    def _shingles(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """32-bit hashes of every text's token k-shingles, concatenated, and where each text's run starts.

        Token hashes are looked up per token (cached CRC32); shingles are mixed for the whole batch at once.
        A text shorter than k tokens is padded to one shingle.
        """
        lookup = self._token_hash.__getitem__
        k = self.shingle
        ids: list[int] = []
        lengths = np.empty(len(texts), dtype=np.int64)
        for d, text in enumerate(texts):
            toks = tokens(text)
            ids.extend(map(lookup, toks))
            if len(toks) < k:
                ids.extend([0] * (k - len(toks)))
            lengths[d] = max(len(toks), k)
        arr = np.asarray(ids, dtype=np.uint64)
        n = len(arr) - k + 1
        mixed = arr[:n].copy()
        for j in range(1, k):
            mixed = (mixed * _MIX) ^ arr[j : j + n]
        mixed ^= mixed >> np.uint64(29)
        mixed = (mixed * _MIX) >> np.uint64(32)
        # keep the positions whose k tokens all belong to one text
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        doc = np.repeat(np.arange(len(texts)), lengths)[:n]
        valid = (np.arange(n) - starts[doc]) <= (lengths[doc] - k)
        per_doc = lengths - k + 1
        return mixed[valid].astype(np.uint32), np.concatenate(([0], np.cumsum(per_doc)[:-1]))

    def shingle_hashes(self, text: str) -> np.ndarray:
        """Distinct 32-bit hashes of one text's token k-shingles."""
        return np.unique(self._shingles([text])[0])

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), num_perm) uint32 array of MinHash signatures of the texts."""
        if not texts:
            return np.zeros((0, self.num_perm), dtype=np.uint32)
        hv, starts = self._shingles(texts)
        hv = _fmix(hv, 32)
        out = np.empty((len(texts), self.num_perm), dtype=np.uint32)
        for i in range(self.num_perm):
            out[:, i] = np.minimum.reduceat(self.a[i] * hv + self.b[i], starts)
        return out


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) for the threshold, from datasketch's optimiser, weighted towards recall."""
    return _optimal_param(threshold, num_perm, 0.3, 0.7)


class NearDupIndex:
    """Near-duplicate lookup within a scope: LSH band collisions, confirmed by the estimated Jaccard."""

    def __init__(self, threshold: float, num_perm: int = 128) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        self.bands, self.rows = lsh_params(threshold, num_perm)
        rng = np.random.RandomState(SEED)
        self._band_mult = rng.randint(1, 2**62, size=self.rows, dtype=np.uint64) | np.uint64(1)
        # hash((scope, band number, band hash)) -> slot, or list of slots; a rare hash collision only adds a
        # candidate, which the Jaccard check then rejects. Ints instead of tuples keep 1M programs in memory.
        self._tables: dict[int, int | list[int]] = {}
        self._sigs: list[np.ndarray] = []
        self._keys: list[Hashable] = []

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(n, bands) uint64 hashes of each signature's bands (computed for a batch at once)."""
        used = sigs[:, : self.bands * self.rows].astype(np.uint64).reshape(len(sigs), self.bands, self.rows)
        return (used * self._band_mult).sum(axis=2, dtype=np.uint64)

    def find(self, scope: Hashable, sig: np.ndarray, bands: np.ndarray) -> tuple[Hashable, float] | None:
        """The most similar indexed key in `scope` with estimated Jaccard >= threshold, and that similarity."""
        seen: set[int] = set()
        best: tuple[int, float] | None = None
        for j, band in enumerate(bands.tolist()):
            found = self._tables.get(hash((scope, j, band)))
            for slot in (found,) if isinstance(found, int) else found or ():
                if slot in seen:
                    continue
                seen.add(slot)
                sim = float(np.count_nonzero(self._sigs[slot] == sig)) / self.num_perm
                if sim >= self.threshold and (best is None or sim > best[1]):
                    best = (slot, sim)
        return None if best is None else (self._keys[best[0]], best[1])

    def add(self, key: Hashable, scope: Hashable, sig: np.ndarray, bands: np.ndarray) -> None:
        slot = len(self._keys)
        self._keys.append(key)
        self._sigs.append(sig)
        tables = self._tables
        for j, band in enumerate(bands.tolist()):
            key = hash((scope, j, band))
            found = tables.get(key)
            if found is None:
                tables[key] = slot
            elif isinstance(found, int):
                tables[key] = [found, slot]
            else:
                found.append(slot)
