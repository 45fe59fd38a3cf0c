"""Curation: filter, de-duplicate, decontaminate, and build SFT rows and preference pairs.

`curate_round` (in `codekiln.curate.run`) is the stage; filters (`FILTERS`), pair builders
(`PAIR_BUILDERS`) are chosen by name. Heavy parts load lazily so `import codekiln.curate` stays cheap.
"""

from __future__ import annotations

from typing import Any


def curate_round(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See `codekiln.curate.run.curate_round`."""
    from codekiln.curate.run import curate_round as run

    return run(*args, **kwargs)
