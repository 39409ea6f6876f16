"""What ``pitchprobe probe`` (``linear_regress.py``) prints for a result."""

from __future__ import annotations

from pitchprobe.probe.results import ProbeResult


def _fmt(x, spec: str) -> str:
    return format(x, spec) if x is not None else " " * (int(spec.split(".")[0].lstrip(">")) - 1) + "-"


def format_table(result: ProbeResult) -> str:
    """The per-layer table: MSE over all frames, the voiced Hz and log-F0 probes' metrics, then movement
    (within-utterance r of ``st_utt``), register (r of ``register``) and voicing (balanced accuracy)."""
    head = (
        f"{'layer':>5} | {'MSE Hz²':>9} | {'Hz-probe (voiced):':<18} {'RMSE Hz':>7} {'cents':>6} {'r':>6} {'R²':>6}"
        f" | {'logF0-probe:':<12} {'cents':>6} {'r':>6} | {'movement':>8} {'register':>8} {'voicing':>7}"
        f" | {'alpha':>8}"
    )
    lines = [head, "-" * len(head)]
    rows = [(str(r.layer), r) for r in result.layers] + [("mean", result.baseline_train_mean)]
    for name, r in rows:
        v, lg = r.f0_voiced.voiced, r.logf0_voiced.voiced
        lines.append(
            f"{name:>5} | {_fmt(r.f0_all.mse, '>9.1f')} | {'':<18} {_fmt(v.rmse_hz, '>7.2f')} "
            f"{_fmt(v.rmse_cents, '>6.1f')} {_fmt(v.r, '>6.3f')} {_fmt(v.r2, '>6.3f')} | {'':<12} "
            f"{_fmt(lg.rmse_cents, '>6.1f')} {_fmt(lg.r, '>6.3f')} | {_fmt(r.st_utt.voiced.r_within, '>8.3f')} "
            f"{_fmt(r.register.voiced.r, '>8.3f')} {_fmt(r.voicing.voiced.balanced_accuracy, '>7.3f')} | "
            f"{_fmt(r.f0_all.alpha, '>8.2g')}"
        )
    return "\n".join(lines)


def prototype_line(result: ProbeResult) -> str:
    """The prototype's output: per-layer test MSE (Hz², all frames) tab-separated, then ``lang_id: N``."""
    mses = "\t".join(f"{r.f0_all.mse:.6f}" for r in result.layers)
    return f"{mses}\nlang_id: {result.language.get('lang_id')}"


def summary_text(res: ProbeResult) -> str:
    """Run summary, per-layer table and the prototype's line, as printed by ``probe``."""
    c = res.counts
    lang = res.language
    head = (
        f"== {lang['code']} (lang_id {lang['lang_id']}, {lang['tone_class']}) | model {res.model['name']}"
        f"{' (random init)' if res.model['random_init'] else ''} [{res.tag}] | "
        + ", ".join(f"{s}: {c[s].utterances} utt / {c[s].frames} frames" for s in c)
    )
    lines = [head]
    if res.failures:
        lines.append(f"   {len(res.failures)} utterances failed:")
        lines += [f"   - {f.language or ''}:{f.split}/{f.id}: {f.reason}" for f in res.failures]
    dropped = sum(c[s].dropped_frames for s in c)
    lines.append(f"   label frames with no model frame in range (dropped): {dropped}")
    masked = sum(c[s].masked_frames for s in c)
    if masked:
        lines.append(f"   label frames masked ({res.labels.get('tracker')} labels: trackers disagree): {masked}")
    padding, audio = sum(c[s].padding_seconds for s in c), sum(c[s].audio_seconds for s in c)
    if padding:
        share = padding / (padding + audio)
        lines.append(f"   batches padded by {padding:.1f} s on {audio:.1f} s of audio ({share:.1%})")
    if not res.probe.get("has_dev", True):
        lines.append("   no dev split: alpha was fixed, and a best layer would be chosen on test")
    lines += [format_table(res), prototype_line(res), f"results: {res.output}"]
    return "\n".join(lines)


__all__ = ["format_table", "prototype_line", "summary_text"]
