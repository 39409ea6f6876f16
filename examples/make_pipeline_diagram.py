"""Draw pitchprobe's pipeline as a left-to-right box-and-arrow diagram (matplotlib only).

Audio is gathered into JSONL manifests; from there two branches run in parallel, pYAAPT F0 labels
and the model's hidden states of every layer; they meet where model frames are aligned to label
frames by centre time, feed one streaming ridge probe per layer, and end as test metrics per
language and layer.

Usage::

    python examples/make_pipeline_diagram.py [--out img]

Writes ``<out>/pipeline.png`` (150 dpi) and ``<out>/pipeline.svg``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

# Okabe-Ito colour-blind-safe palette: a strong edge colour and a light fill of the same hue per stage.
STAGE_COLOURS = {
    "data": ("#0072B2", "#D6E8F5"),  # blue
    "labels": ("#E69F00", "#FBEBCB"),  # orange
    "model": ("#009E73", "#CCEDE3"),  # bluish green
    "probe": ("#D55E00", "#F7DCCB"),  # vermillion
    "output": ("#CC79A7", "#F4E1EC"),  # reddish purple
}
BOX_WIDTH = 2.6  # data units; the figure is drawn at INCHES_PER_UNIT so font sizes and boxes keep their ratio
BOX_HEIGHT = 1.3
COLUMN_STEP = 3.3
INCHES_PER_UNIT = 0.85
ROW_Y = {"top": 0.95, "middle": 0.0, "bottom": -0.95}
TITLE_LINE = 0.25  # vertical space per title line, data units
DETAIL_LINE = 0.23  # vertical space per detail line
TITLE_DETAIL_GAP = 0.07


@dataclass(frozen=True)
class Box:
    """One pipeline stage: its centre (x, y), a bold title, a smaller detail line and a stage colour."""

    key: str
    x: float
    y: float
    title: str
    detail: str
    stage: str


BOXES = [
    Box("audio", 0 * COLUMN_STEP, ROW_Y["middle"], "FLEURS audio", "(102 langs)\n/ own recordings", "data"),
    Box("gather", 1 * COLUMN_STEP, ROW_Y["middle"], "gather", "JSONL manifests", "data"),
    Box("labels", 2 * COLUMN_STEP, ROW_Y["top"], "pYAAPT F0 labels", "25 ms / 20 ms\nParquet", "labels"),
    Box(
        "model",
        2 * COLUMN_STEP,
        ROW_Y["bottom"],
        "model: hidden states",
        "every layer\n(S3PRL / transformers)",
        "model",
    ),
    Box("align", 3 * COLUMN_STEP, ROW_Y["middle"], "align frames", "by centre time", "probe"),
    Box(
        "probe",
        4 * COLUMN_STEP,
        ROW_Y["middle"],
        "streaming ridge\nprobe per layer",
        "XᵀX sums, alpha on dev",
        "probe",
    ),
    Box(
        "metrics",
        5 * COLUMN_STEP,
        ROW_Y["middle"],
        "test metrics",
        "per language × layer\n→ JSON, Parquet, tables",
        "output",
    ),
]
ARROWS = [
    ("audio", "gather"),
    ("gather", "labels"),
    ("gather", "model"),
    ("labels", "align"),
    ("model", "align"),
    ("align", "probe"),
    ("probe", "metrics"),
]


def draw_box(ax: plt.Axes, box: Box) -> None:
    """Draw one rounded box with its title in bold and the detail below it."""
    edge, fill = STAGE_COLOURS[box.stage]
    patch = FancyBboxPatch(
        (box.x - BOX_WIDTH / 2, box.y - BOX_HEIGHT / 2),
        BOX_WIDTH,
        BOX_HEIGHT,
        boxstyle="round,pad=0.02,rounding_size=0.15",
        facecolor=fill,
        edgecolor=edge,
        linewidth=2.0,
    )
    ax.add_patch(patch)
    n_title = box.title.count("\n") + 1
    n_detail = box.detail.count("\n") + 1
    height = n_title * TITLE_LINE + TITLE_DETAIL_GAP + n_detail * DETAIL_LINE
    top = box.y + height / 2
    ax.text(
        box.x,
        top - n_title * TITLE_LINE / 2,
        box.title,
        ha="center",
        va="center",
        fontsize=12.5,
        fontweight="bold",
        linespacing=1.25,
    )
    ax.text(
        box.x,
        top - n_title * TITLE_LINE - TITLE_DETAIL_GAP - n_detail * DETAIL_LINE / 2,
        box.detail,
        ha="center",
        va="center",
        fontsize=11,
        color="#222222",
        linespacing=1.3,
    )


def anchor(box: Box, side: str, dy: float = 0.0) -> tuple[float, float]:
    """A point on a box's left or right edge, `dy` above its middle, where arrows start and end."""
    dx = BOX_WIDTH / 2 + 0.05
    return (box.x + dx if side == "right" else box.x - dx, box.y + dy)


def draw_arrow(ax: plt.Axes, start: Box, end: Box) -> None:
    """Draw an arrow from the right edge of `start` to the left edge of `end`.

    Arrows that fork out of or merge into the middle row leave or enter it a little above or below
    the middle of the edge, on the side of the branch they belong to.
    """
    offset = 0.3
    start_dy = offset * (end.y > start.y) - offset * (end.y < start.y) if start.y == ROW_Y["middle"] else 0.0
    end_dy = offset * (start.y > end.y) - offset * (start.y < end.y) if end.y == ROW_Y["middle"] else 0.0
    arrow = FancyArrowPatch(
        anchor(start, "right", start_dy),
        anchor(end, "left", end_dy),
        arrowstyle="-|>,head_length=0.7,head_width=0.35",
        mutation_scale=14,
        shrinkA=0,
        shrinkB=0,
        color="#333333",
        linewidth=1.8,
    )
    ax.add_patch(arrow)


def make_diagram(out_dir: Path) -> list[Path]:
    """Draw the diagram and save it as PNG (150 dpi) and SVG in `out_dir`; return both paths."""
    boxes = {box.key: box for box in BOXES}
    xs = [box.x for box in BOXES]
    margin = 0.15
    x_range = (min(xs) - BOX_WIDTH / 2 - margin, max(xs) + BOX_WIDTH / 2 + margin)
    y_range = (ROW_Y["bottom"] - BOX_HEIGHT / 2 - margin, ROW_Y["top"] + BOX_HEIGHT / 2 + margin)
    width, height = (x_range[1] - x_range[0]), (y_range[1] - y_range[0])
    fig = plt.figure(figsize=(width * INCHES_PER_UNIT, height * INCHES_PER_UNIT))
    ax = fig.add_axes((0, 0, 1, 1))
    for box in BOXES:
        draw_box(ax, box)
    for start, end in ARROWS:
        draw_arrow(ax, boxes[start], boxes[end])
    ax.text(
        boxes["labels"].x,
        ROW_Y["middle"],
        "in parallel",
        ha="center",
        va="center",
        fontsize=10,
        style="italic",
        color="#555555",
    )
    ax.set_xlim(*x_range)
    ax.set_ylim(*y_range)
    ax.set_axis_off()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "pipeline.png", out_dir / "pipeline.svg"]
    fig.savefig(paths[0], dpi=150, facecolor="white")
    fig.savefig(paths[1], facecolor="white")
    plt.close(fig)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_out = Path(__file__).resolve().parent.parent / "img"
    parser.add_argument("--out", type=Path, default=default_out, help=f"output folder (default: {default_out})")
    args = parser.parse_args()
    for path in make_diagram(out_dir=args.out):
        print(path)


if __name__ == "__main__":
    main()
