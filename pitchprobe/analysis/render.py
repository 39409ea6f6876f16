"""Rendering of a report's sections: Markdown and self-contained HTML (figures embedded).

A section is ``(title, text)``, ``(title, text or None, table)``, ``(title, "figs")`` or ``(title, "cmds")``.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from pitchprobe.core.atomic import write_text
from pitchprobe.core.layout import RunLayout


def md_table(df: pd.DataFrame) -> str:
    def cell(x):
        if isinstance(x, float):
            return "" if np.isnan(x) else f"{x:.4g}"
        return str(x)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def write_markdown(layout: RunLayout, sections, figs, cmds) -> None:
    out = ["# pitchprobe study", ""]
    for sec in sections:
        out += [f"## {sec[0]}", ""]
        if len(sec) == 3:
            out += [sec[1], ""] if sec[1] else []
            out += [md_table(sec[2]) if not sec[2].empty else "(none)", ""]
        elif sec[1] == "figs":
            for title, p in figs:
                out += [f"### {title}", "", f"![{title}]({p.relative_to(layout.root).as_posix()})", ""]
        elif sec[1] == "cmds":
            out += ["```bash", *cmds, "```", ""]
        else:
            out += [sec[1], ""]
    write_text(layout.report_md, "\n".join(out))


def write_html(layout: RunLayout, sections, figs, cmds) -> Path:
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;font-size:.85em;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em}"
        "th{background:#eef}img{max-width:100%;border:1px solid #eee}"
        "pre{background:#f6f6f6;padding:1em;white-space:pre-wrap;overflow-wrap:anywhere}"
        ".wide{max-width:100%;overflow-x:auto}"  # a table wider than the page scrolls in its box, never off the page
    )
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>pitchprobe study</title><style>{style}</style>"]
    out.append("</head><body><h1>pitchprobe study</h1>")
    for sec in sections:
        out.append(f"<h2>{html.escape(sec[0])}</h2>")
        if len(sec) == 3:
            if sec[1]:
                out.append("<p>" + html.escape(sec[1]) + "</p>")
            table = sec[2].to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="")
            out.append(f"<div class='wide'>{table}</div>" if not sec[2].empty else "<p>(none)</p>")
        elif sec[1] == "figs":
            for title, p in figs:
                data = base64.b64encode(p.read_bytes()).decode("ascii")
                out.append(
                    f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
                )
        elif sec[1] == "cmds":
            out.append("<pre>" + html.escape("\n".join(cmds)) + "</pre>")
        else:
            out += ["<p>" + html.escape(par).replace("\n", "<br>") + "</p>" for par in sec[1].split("\n\n")]
    out.append("</body></html>")
    path = layout.report_html
    write_text(path, "\n".join(out))
    return path


__all__ = ["md_table", "write_html", "write_markdown"]
