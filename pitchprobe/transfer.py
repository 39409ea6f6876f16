"""Cross-lingual transfer: fit each layer's probes on one language, score them on others.

The zero-shot question of the original work: does a probe for F0 trained on
English hidden states read F0 from Zulu or Mandarin hidden states? Results go
to ``<run_dir>/transfer/<model_tag>/<train_code>/<test_code>.json`` in the
same format as :func:`pitchprobe.probe.run_probe`'s, with ``train_language``
set, and the test predictions beside each.
"""

from __future__ import annotations

import time
from pathlib import Path

from .models.base import Backend
from .probe import _State, fit_probes, model_tag, score_and_write


def transfer_path(run_dir: Path, backend: Backend, train_code: str, test_code: str) -> Path:
    """``<run_dir>/transfer/<model_tag>/<train_code>/<test_code>.json``."""
    return Path(run_dir) / "transfer" / model_tag(backend) / train_code / f"{test_code}.json"


def run_transfer(
    train_code: str,
    test_codes: list[str],
    *,
    root: Path,
    run_dir: Path,
    backend: Backend,
    alpha: float | None = None,
    fail_fast: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Fit on ``train_code`` (train split, alpha on its dev split), score on each test language's test split.

    Test languages whose result file exists already are skipped; the fit is
    done only if at least one is missing. Returns the results written now.
    """
    todo = [c for c in test_codes if not transfer_path(run_dir, backend, train_code, c).is_file()]
    if not todo:
        return []
    t0 = time.perf_counter()
    fit_state = _State()
    probes = fit_probes(
        train_code, root=root, backend=backend, alpha=alpha, fail_fast=fail_fast, progress=progress, state=fit_state
    )
    out = []
    for code in todo:
        path = transfer_path(run_dir, backend, train_code, code)
        state = _State()
        state.counts.update({s: fit_state.counts[s] for s in ("train", "dev")})
        state.failures = list(fit_state.failures)
        res = score_and_write(
            probes,
            code,
            root=root,
            backend=backend,
            output=path,
            state=state,
            alpha=alpha,
            fail_fast=fail_fast,
            progress=progress,
            t0=t0,
        )
        out.append(res)
    return out
