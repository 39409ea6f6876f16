"""Plot pitchprobe results: per-layer probe quality and example F0 contours.

Reads every per-language results JSON under RESULTS_DIR (recursively; ``*.predictions.parquet``
files are read only as the companions of their JSON, and JSON files that are not probe results,
or that lie under a ``transfer/`` folder, are skipped). The model tag of a result is the name of
the folder holding its JSON (``results/<model_tag>/<code>.json``). Two figures, each saved as PNG
and SVG:

``layer_curves``
    Left: Pearson r between the pYAAPT F0 and the voiced-F0 probe's prediction on the voiced test
    frames, against layer, one line per (model, language). The train-mean baseline predicts a
    constant, so its r is undefined; it is drawn as the r = 0 floor. Right: the same probes' RMSE
    (Hz by default, see ``--error``) with each language's train-mean baseline as a dotted line.
    Up to seven languages get one colour each (models differ by line style and marker); with more,
    each model gets one colour, thin lines per language and a bold mean over languages.

``contour_examples``
    One panel per language: the pYAAPT F0 contour of one test utterance (the one with the most
    voiced frames among those every model scored) against time, and each model's best layer's
    prediction (highest voiced r, ``pred_f0_voiced``) on the voiced frames.

Usage::

    python examples/plot_results.py RESULTS_DIR [--out DIR] [--languages CODE ...]
    python examples/plot_results.py /tmp/demo/results --out img
"""

from __future__ import annotations

import argparse
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from PIL import Image  # noqa: E402  (a dependency of matplotlib)

SAMPLING_RATE = 16000  # Hz; audio, model frames and pYAAPT labels all use it
TARGET = "f0_voiced"  # the probe fitted on voiced frames, predicting F0 in Hz
# Okabe-Ito colour-blind-safe palette (black left out: it is the pYAAPT reference colour).
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"]
MODEL_COLOURS = ["#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
MODEL_STYLES = [
    ("-", "o"),
    ("--", "s"),
    ("-.", "^"),
    (":", "D"),
    ((0, (5, 1, 1, 1)), "v"),
    ((0, (1, 1)), "P"),
]
MAX_LANGUAGE_COLOURS = 7
ERROR_LABELS = {"rmse_hz": "RMSE (Hz)", "rmse_cents": "RMSE (cents)", "r2": "R²"}

plt.rcParams.update(
    {
        "font.size": 10.5,
        "axes.titlesize": 11.5,
        "axes.labelsize": 10.5,
        "legend.fontsize": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


@dataclass
class Result:
    """The parts of one results JSON that the figures need."""

    model_tag: str
    code: str
    language: str
    layers: list[int]
    r: list[float]  # voiced Pearson r of the f0_voiced probe, per layer
    errors: dict[str, list[float]]  # rmse_hz / rmse_cents / r2 of the f0_voiced probe, per layer
    baseline: dict[str, float]  # the train-mean baseline's rmse_hz / rmse_cents / r2
    predictions: Path | None

    @property
    def best_layer(self) -> int:
        """The layer whose probe has the highest voiced r (the first one on ties)."""
        scores = [-math.inf if v is None or not math.isfinite(v) else v for v in self.r]
        return self.layers[int(np.argmax(scores))]

    def r_at(self, layer: int) -> float:
        """The voiced r of `layer`'s probe."""
        return self.r[self.layers.index(layer)]


def _number(value) -> float:
    """A JSON number, or NaN for null/missing."""
    return float("nan") if value is None else float(value)


def load_results(results_dir: Path) -> list[Result]:
    """Every per-language probe result under `results_dir`, sorted by model tag and language code."""
    results = []
    for path in sorted(Path(results_dir).rglob("*.json")):
        if "transfer" in path.relative_to(results_dir).parts:
            continue  # cross-lingual transfer results: a probe trained on another language
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(record, dict) or not {"language", "layers", "baseline_train_mean"} <= record.keys():
            continue  # e.g. labels/*/params.json or a model's config.json
        layers = record["layers"]
        voiced = [layer[TARGET]["voiced"] for layer in layers]
        baseline_voiced = record["baseline_train_mean"][TARGET]["voiced"]
        predictions = path.with_name(path.stem + ".predictions.parquet")
        results.append(
            Result(
                model_tag=path.parent.name,
                code=record["language"]["code"],
                language=record["language"].get("language") or record["language"]["code"],
                layers=[int(layer["layer"]) for layer in layers],
                r=[_number(v.get("r")) for v in voiced],
                errors={key: [_number(v.get(key)) for v in voiced] for key in ERROR_LABELS},
                baseline={key: _number(baseline_voiced.get(key)) for key in ERROR_LABELS},
                predictions=predictions if predictions.is_file() else None,
            )
        )
    return sorted(results, key=lambda res: (res.model_tag.endswith("-random"), res.model_tag, res.code))


def save(fig: plt.Figure, out_dir: Path, name: str) -> list[Path]:
    """Save `fig` as ``<out_dir>/<name>.png`` (150 dpi) and ``.svg``; close it; return both paths.

    The PNG is reduced to a 256-colour palette, which keeps it a few times smaller at no visible cost.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.svg"]
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight", facecolor="white")
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(paths[0], optimize=True)
    fig.savefig(paths[1], bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return paths


def plot_layer_curves(results: list[Result], out_dir: Path, *, error: str = "rmse_hz") -> list[Path]:
    """Voiced Pearson r (left) and `error` (right) of the f0_voiced probe against layer."""
    models = list(dict.fromkeys(res.model_tag for res in results))
    codes = list(dict.fromkeys(res.code for res in sorted(results, key=lambda res: res.code)))
    names = {res.code: res.language for res in results}
    few_languages = len(codes) <= MAX_LANGUAGE_COLOURS
    style = {tag: MODEL_STYLES[i % len(MODEL_STYLES)] for i, tag in enumerate(models)}
    if few_languages:
        colour = {code: OKABE_ITO[i] for i, code in enumerate(codes)}
    else:
        colour = {tag: MODEL_COLOURS[i % len(MODEL_COLOURS)] for i, tag in enumerate(models)}

    fig, (ax_r, ax_err) = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, metric in ((ax_r, "r"), (ax_err, error)):
        for res in results:
            values = res.r if metric == "r" else res.errors[metric]
            linestyle, marker = style[res.model_tag]
            if few_languages:
                ax.plot(
                    res.layers,
                    values,
                    color=colour[res.code],
                    linestyle=linestyle,
                    marker=marker,
                    markersize=5,
                    linewidth=1.8,
                )
            else:
                ax.plot(res.layers, values, color=colour[res.model_tag], linewidth=0.6, alpha=0.3)
        if not few_languages:  # bold per-model mean over languages, layer by layer
            for tag in models:
                per_language = [
                    pd.Series(res.r if metric == "r" else res.errors[metric], index=res.layers)
                    for res in results
                    if res.model_tag == tag
                ]
                mean = pd.concat(per_language, axis=1).mean(axis=1).sort_index()
                linestyle, marker = style[tag]
                ax.plot(
                    mean.index,
                    mean.values,
                    color=colour[tag],
                    linestyle=linestyle,
                    marker=marker,
                    markersize=5,
                    linewidth=2.4,
                )
        ax.set_xlabel("layer (0 = model input features / CNN output)")
        ax.grid(alpha=0.3, linewidth=0.6)
        max_layer = max(max(res.layers) for res in results)
        ax.set_xticks(range(0, max_layer + 1, max(1, math.ceil((max_layer + 1) / 13))))

    ax_r.axhline(0.0, color="0.35", linestyle=":", linewidth=1.5)
    ax_r.annotate(
        "train-mean baseline: a constant, r = 0 (undefined)",
        xy=(0.01, 0.0),
        xycoords=("axes fraction", "data"),
        xytext=(0, 4),
        textcoords="offset points",
        fontsize=9,
        color="0.3",
    )
    r_values = [v for res in results for v in res.r if math.isfinite(v)]
    ax_r.set_ylim(min(-0.05, min(r_values, default=0) - 0.05), 1.0)
    ax_r.set_ylabel("Pearson r, voiced test frames")
    ax_r.set_title("How linearly decodable is F0 from each layer?")

    if few_languages:
        for code in codes:
            baseline = next(res.baseline[error] for res in results if res.code == code)
            ax_err.axhline(baseline, color=colour[code], linestyle=":", linewidth=1.5)
    else:
        baseline = np.nanmean([res.baseline[error] for res in results if res.model_tag == models[0]])
        ax_err.axhline(baseline, color="0.35", linestyle=":", linewidth=1.5)
    ax_err.set_ylabel(f"{ERROR_LABELS[error]}, voiced test frames")
    ax_err.set_title(f"Probe error; dotted: train-mean baseline{'s' if few_languages else ' (mean)'}")
    if error != "r2":
        ax_err.set_ylim(bottom=0)

    # Two legends below both panels: what the line styles mean (left) and what the colours mean (right).
    model_handles = [
        Line2D(
            [],
            [],
            color="0.15" if few_languages else colour[tag],
            linestyle=style[tag][0],
            marker=style[tag][1],
            linewidth=1.8,
            label=tag,
        )
        for tag in models
    ]
    model_handles.append(Line2D([], [], color="0.35", linestyle=":", linewidth=1.5, label="train-mean baseline"))
    if few_languages:
        colour_handles = [
            Line2D([], [], color=colour[code], linewidth=4, label=f"{names[code]} ({code})") for code in codes
        ]
        colour_title = "language (colour)"
    else:
        colour_handles = [
            Line2D([], [], color="0.5", linewidth=0.6, alpha=0.5, label=f"each of {len(codes)} languages"),
            Line2D([], [], color="0.2", linewidth=2.4, label="mean over languages"),
        ]
        colour_title = "lines"
    legend_style = {"frameon": False, "handlelength": 2.8, "title_fontsize": 9.5, "alignment": "left"}
    fig.legend(
        handles=model_handles,
        title="model (line style, marker)",
        loc="upper right",
        bbox_to_anchor=(0.49, 0.0),
        **legend_style,
    )
    fig.legend(
        handles=colour_handles,
        title=colour_title,
        loc="upper left",
        bbox_to_anchor=(0.51, 0.0),
        ncol=1 if len(colour_handles) <= 4 else 2,
        **legend_style,
    )
    fig.suptitle("Voiced-F0 linear probe per layer (pYAAPT labels, ridge, alpha chosen on dev)", y=1.0)
    fig.tight_layout()
    return save(fig, out_dir, "layer_curves")


def pick_utterance(frames_by_model: dict[str, pd.DataFrame]) -> str | None:
    """The test utterance with the most voiced frames among those every model scored (ties: lowest id)."""
    common = set.intersection(*(set(frames.id) for frames in frames_by_model.values()))
    if not common:
        return None
    first = next(iter(frames_by_model.values()))
    first = first[first.id.isin(common)]
    voiced = first.set_index("id").f0_hz.map(lambda f0: int((np.asarray(f0) > 0).sum()))
    return str(voiced.sort_index().idxmax())


def plot_contour_examples(
    results: list[Result], out_dir: Path, *, languages: list[str] | None = None, max_languages: int = 6
) -> list[Path] | None:
    """pYAAPT F0 of one test utterance per language against each model's best layer's prediction."""
    models = list(dict.fromkeys(res.model_tag for res in results))
    codes = sorted({res.code for res in results if res.predictions is not None})
    if languages:
        codes = [code for code in languages if code in codes]
    codes = codes[:max_languages]
    if not codes:
        return None
    # The same marker per model as in layer_curves; solid lines, as dashes blur noisy contours.
    style = {tag: MODEL_STYLES[i % len(MODEL_STYLES)] for i, tag in enumerate(models)}
    colour = {tag: MODEL_COLOURS[i % len(MODEL_COLOURS)] for i, tag in enumerate(models)}
    n_cols = min(3, len(codes))
    n_rows = math.ceil(len(codes) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(5.4 * n_cols, 4.6 * n_rows), squeeze=False)
    for ax, code in zip(axes.flat, codes):
        by_model = {res.model_tag: res for res in results if res.code == code and res.predictions is not None}
        frames_by_model = {
            tag: pd.read_parquet(
                res.predictions,
                columns=["id", "layer", "label_index", "centre_samples", "f0_hz", "pred_f0_voiced"],
                filters=[("layer", "=", res.best_layer)],
            )
            for tag, res in by_model.items()
        }
        utterance = pick_utterance(frames_by_model)
        if utterance is None:
            ax.set_axis_off()
            continue
        reference = next(iter(by_model.values()))
        row = frames_by_model[reference.model_tag].set_index("id").loc[utterance]
        f0 = np.asarray(row.f0_hz, dtype=float)
        seconds = np.asarray(row.centre_samples, dtype=float) / SAMPLING_RATE  # where each label frame sits
        voiced = f0 > 0
        ax.plot(seconds, np.where(voiced, f0, np.nan), color="black", linewidth=2.6, label="pYAAPT F0", zorder=3)
        for tag, res in by_model.items():
            row = frames_by_model[tag].set_index("id").loc[utterance]
            prediction = np.asarray(row.pred_f0_voiced, dtype=float)
            f0_model = np.asarray(row.f0_hz, dtype=float)
            ax.plot(
                np.asarray(row.centre_samples, dtype=float) / SAMPLING_RATE,
                np.where(f0_model > 0, prediction, np.nan),
                color=colour[tag],
                marker=style[tag][1],
                markersize=3,
                linewidth=1.2,
                alpha=0.9,
                label=f"{tag}, layer {res.best_layer} (test r = {res.r_at(res.best_layer):.2f})",
                zorder=4,
            )
        ax.set_title(f"{reference.language} ({code})\ntest utterance {utterance}", fontsize=10.5)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("F0 (Hz)")
        ax.grid(alpha=0.3, linewidth=0.6)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8.5, frameon=False)
    for ax in list(axes.flat)[len(codes) :]:
        ax.set_axis_off()
    fig.suptitle("pYAAPT F0 and the best layer's voiced-F0 probe prediction (voiced frames only)")
    fig.tight_layout()
    return save(fig, out_dir, "contour_examples")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results_dir", type=Path, metavar="RESULTS_DIR", help="folder of results/<model>/<code>.json")
    parser.add_argument("--out", type=Path, default=Path("img"), help="output folder (default: img)")
    parser.add_argument(
        "--error",
        choices=sorted(ERROR_LABELS),
        default="rmse_hz",
        help="error metric of the right panel of layer_curves (default: rmse_hz)",
    )
    parser.add_argument(
        "--languages", nargs="+", metavar="CODE", help="language codes for contour_examples (default: all)"
    )
    parser.add_argument("--max-languages", type=int, default=6, help="most panels in contour_examples (default: 6)")
    args = parser.parse_args()

    results = load_results(args.results_dir)
    if not results:
        parser.error(f"no results JSON under {args.results_dir}")
    for res in results:
        best = res.best_layer
        print(f"{res.model_tag:32s} {res.code:16s} best layer {best:3d}  voiced r = {res.r_at(best):.3f}")
    paths = plot_layer_curves(results, args.out, error=args.error)
    paths += plot_contour_examples(results, args.out, languages=args.languages, max_languages=args.max_languages) or []
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
