"""Cross-lingual transfer: fit each layer's probes on one language, score them on others.

The zero-shot question of the original work: does a probe for F0 trained on
English hidden states read F0 from Zulu or Mandarin hidden states? Each
result has the same schema as :func:`pitchprobe.probe.run.run_probe`'s, with
``train_language`` set; where it goes is the caller's. The train language's fit
failures are kept in each result, marked ``phase="fit"`` and with their
language; ``fit_seconds`` is the fit's time, ``wall_seconds`` this test
language's scoring alone. A study does the same in one pass per language
(:mod:`pitchprobe.study.units`): this stand-alone path is what it is checked against.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pitchprobe.core.atomic import ensure_writable
from pitchprobe.core.layout import ResultFiles
from pitchprobe.models.base import Backend
from pitchprobe.probe.frames import RunState
from pitchprobe.probe.results import ProbeResult
from pitchprobe.probe.run import backend_settings, fit_probes
from pitchprobe.probe.score import ScoreTarget, score_targets


def run_transfer(
    train_code: str,
    test_codes: list[str],
    *,
    root: Path,
    files_of: Callable[[str], ResultFiles],
    backend: Backend,
    alpha: float | None = None,
    gender: str = "all",
    postprocess: bool = False,
    fail_fast: bool = False,
    progress: bool = True,
    on_error: Callable[[str, Exception], None] | None = None,
) -> list[ProbeResult]:
    """Fit on ``train_code`` (train split, alpha on its dev split), score on each test language's test split.

    ``files_of(test_code)`` says where each result goes. Returns the results
    written. With ``on_error``, a test language whose scoring fails (no usable
    test frames, say) is passed to it with its exception and the others go on;
    without it, the exception propagates.
    """
    t0 = time.perf_counter()
    for code in test_codes:
        ensure_writable(files_of(code).json.parent)  # before the long pass, not after it
    fit_state = RunState()
    kw = {"root": root, "backend": backend, "gender": gender, "fail_fast": fail_fast, "progress": progress}
    probes = fit_probes(train_code, alpha=alpha, state=fit_state, **kw)
    fit_seconds = time.perf_counter() - t0
    settings = backend_settings(probes, root=root, backend=backend, alpha=alpha, gender=gender, postprocess=postprocess)
    run = {"root": root, "backend": backend, "fail_fast": fail_fast, "progress": progress}
    out = []
    for code in test_codes:
        target = ScoreTarget(probes, files_of(code), fit_state=fit_state, predictions=False, fit_seconds=fit_seconds)
        try:
            out += score_targets([target], code, settings=settings, **run)
        except Exception as e:  # noqa: BLE001 - handed to the caller's on_error, which records it for this language
            if on_error is None or fail_fast:
                raise
            on_error(code, e)
    return out
