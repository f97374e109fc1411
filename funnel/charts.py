"""The report's charts: matplotlib to PNG, each with a text alternative.

Drawn with matplotlib's object API (a `Figure` on an Agg canvas), never pyplot: pyplot keeps
every figure in a process-wide registry and picks a display backend, neither of which belongs in
a web worker.

Readable in print and to colour-blind readers: the Okabe-Ito palette, a second series always
differs by hatching or marker as well as colour, values are written on the bars, and every
chart comes with a sentence saying what it shows (the `alt` text) beside a table of the same
numbers in the report.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
GREEN = "#009E73"
SKY = "#56B4E9"
GREY = "#595959"
STYLE = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": GREY,
    "axes.labelcolor": "#0b0c0c",
    "xtick.color": "#0b0c0c",
    "ytick.color": "#0b0c0c",
    "hatch.linewidth": 0.8,
    "svg.fonttype": "none",
}


# The style is applied through rcParams, which are process-wide: a web server drawing two reports
# at once in two threads must not mix their settings. Charts are drawn one at a time.
_drawing = threading.Lock()


@dataclass(eq=False)
class Chart:
    """A chart's words now, its picture when first asked for: a page shows its charts as
    separate images, so the page never waits for them, and a chart nobody opens (or that the
    email leaves out) is never drawn."""

    name: str
    title: str
    alt: str
    draw: Callable[[], bytes] = field(repr=False)
    _png: bytes | None = field(default=None, repr=False)

    @property
    def png(self) -> bytes:
        if self._png is None:
            with _drawing:
                if self._png is None:
                    self._png = self.draw()
        return self._png

    @property
    def drawn(self) -> bool:
        return self._png is not None

    @property
    def filename(self) -> str:
        return f"{self.name}.png"


def _figure(height: float) -> tuple[Figure, Axes]:
    """A 7-inch-wide figure with one plot, on its own Agg canvas (call inside the style)."""
    fig = Figure(figsize=(7, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    # One draw: the constrained layout already fits titles, labels and legends.
    fig.savefig(buffer, format="png", dpi=110, facecolor="white")
    return buffer.getvalue()


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_xticks([])
    ax.set_yticks([])


def _legend(ax: Axes, ncols: int = 2) -> None:
    # Below the chart, so it never hides a bar or a value.
    ax.figure.legend(frameon=False, fontsize=8, loc="outside lower center", ncols=ncols)


def _room_for_labels(ax: Axes, largest: float) -> None:
    ax.set_xlim(0, max(largest, 1) * 1.15)


def _month(label: str) -> str:
    return pd.Period(label, freq="M").strftime("%b %y")


def _list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def funnel_chart(reached: pd.Series, labels: dict[str, str], heading: str) -> Chart:
    """Horizontal bars, enquiry at the top, each labelled with the count and share."""
    total = int(reached.iloc[0]) if len(reached) else 0
    names = [labels[s] for s in reached.index]

    def draw() -> bytes:
        with mpl.rc_context(STYLE):
            fig, ax = _figure(3.6)
            if total == 0:
                _empty(ax, "No enquiries in this period")
            else:
                y = np.arange(len(reached))[::-1]
                ax.barh(y, reached.to_numpy(), color=BLUE, edgecolor="#0b0c0c", linewidth=0.6)
                for yi, value in zip(y, reached.to_numpy(), strict=True):
                    ax.text(
                        value + total * 0.01, yi, f"{value:,} ({value / total:.0%})", va="center"
                    )
                ax.set_yticks(y, names)
                ax.set_xlim(0, total * 1.25)
                ax.set_xlabel("Households that reached the stage")
            ax.set_title(heading)
            return _png(fig)

    parts = [f"{labels[s]} {int(v):,}" for s, v in reached.items()]
    alt = f"Bar chart: {heading}. " + (
        "No enquiries in this period."
        if total == 0
        else "Households reached: " + _list(parts) + "."
    )
    return Chart("funnel", heading, alt, draw)


def trend_chart(weekly: pd.DataFrame) -> Chart:
    """Enquiries per week as bars, the average of the 4 weeks before as a dashed line."""
    heading = "Enquiries per week"
    weeks = [w.split("-")[1] for w in weekly.index]
    values = weekly["enquiries"].to_numpy()
    average = weekly["average_previous_4_weeks"].to_numpy(dtype=float)

    def draw() -> bytes:
        with mpl.rc_context(STYLE):
            fig, ax = _figure(3.2)
            x = np.arange(len(weeks))
            bars = ax.bar(
                x, values, color=SKY, edgecolor="#0b0c0c", linewidth=0.6, label="Enquiries"
            )
            ax.bar_label(bars, padding=2, fontsize=8)
            ax.plot(
                x,
                average,
                color="#0b0c0c",
                linestyle="--",
                marker="o",
                markersize=3,
                label="Average of the 4 weeks before",
            )
            ax.set_xticks(x, weeks, rotation=0, fontsize=8)
            ax.set_ylabel("Enquiries")
            ax.set_ylim(0, max(1, np.nanmax(np.r_[values, average, 0])) * 1.2)
            _legend(ax)
            ax.set_title(heading)
            return _png(fig)

    if len(values):
        alt = (
            f"Bar chart of enquiries per week from {weekly.index[0]} to {weekly.index[-1]}: "
            + _list([f"{w} {int(v)}" for w, v in zip(weekly.index, values, strict=True)])
            + "."
        )
    else:
        alt = "Bar chart of enquiries per week: no weeks to show."
    return Chart("enquiries_trend", heading, alt, draw)


def time_to_stage_chart(days: pd.DataFrame, labels: dict[str, str]) -> Chart:
    """Median and 75th-percentile days from enquiry to each stage (bars, second one hatched)."""
    heading = "Days from enquiry to each stage"
    days = days.drop(index="enquiry", errors="ignore")
    names = [labels[s] for s in days.index]
    median = days["median"].to_numpy(dtype=float)
    p75 = days["p75"].to_numpy(dtype=float)

    def draw() -> bytes:
        with mpl.rc_context(STYLE):
            fig, ax = _figure(3.4)
            if np.all(np.isnan(median)):
                _empty(ax, "Nobody in this group has moved beyond enquiry yet")
            else:
                y = np.arange(len(names))[::-1]
                h = 0.38
                ax.barh(
                    y + h / 2,
                    np.nan_to_num(median),
                    h,
                    color=BLUE,
                    label="Median",
                    edgecolor="#0b0c0c",
                    linewidth=0.6,
                )
                ax.barh(
                    y - h / 2,
                    np.nan_to_num(p75),
                    h,
                    color="white",
                    hatch="///",
                    edgecolor=ORANGE,
                    linewidth=1,
                    label="3 in 4 within (75th percentile)",
                )
                for yi, m, p in zip(y, median, p75, strict=True):
                    if not np.isnan(m):
                        ax.text(m, yi + h / 2, f" {m:.0f}", va="center", fontsize=8)
                        ax.text(p, yi - h / 2, f" {p:.0f}", va="center", fontsize=8)
                ax.set_yticks(y, names)
                ax.set_xlabel("Days after the enquiry")
                _room_for_labels(ax, float(np.nanmax(p75)))
                _legend(ax)
            ax.set_title(heading)
            return _png(fig)

    parts = [
        f"{labels[s]} median {m:.0f} days (75th percentile {p:.0f})"
        for s, m, p in zip(days.index, median, p75, strict=True)
        if not np.isnan(m)
    ]
    alt = f"Bar chart: {heading}. " + (_list(parts) + "." if parts else "No one reached a stage.")
    return Chart("time_to_stage", heading, alt, draw)


def drop_off_chart(reasons: pd.DataFrame) -> Chart:
    """Reasons households left (top 10), withdrawn solid, not progressed hatched.

    `reasons` has columns label, outcome ("withdrawn"/"not_progressed") and households."""
    heading = "Why households left the funnel"
    top = reasons.sort_values("households", ascending=False).head(10).iloc[::-1]

    def draw() -> bytes:
        with mpl.rc_context(STYLE):
            fig, ax = _figure(3.6)
            if top.empty:
                _empty(ax, "Nobody withdrew or was not progressed")
            else:
                y = np.arange(len(top))
                withdrawn = (top["outcome"] == "withdrawn").to_numpy()
                values = top["households"].to_numpy()
                for mask, colour, hatch, label in (
                    (withdrawn, VERMILLION, None, "Withdrew (their choice)"),
                    (~withdrawn, "white", "xx", "Not progressed (our decision)"),
                ):
                    if mask.any():
                        ax.barh(
                            y[mask],
                            values[mask],
                            color=colour,
                            hatch=hatch,
                            edgecolor=VERMILLION if hatch else "#0b0c0c",
                            linewidth=0.8,
                            label=label,
                        )
                for yi, v in zip(y, values, strict=True):
                    ax.text(v, yi, f" {v}", va="center", fontsize=8)
                ax.set_yticks(y, [str(s) for s in top["label"]])
                ax.set_xlabel("Households")
                _room_for_labels(ax, float(values.max()))
                _legend(ax)
            ax.set_title(heading)
            return _png(fig)

    parts = [
        f"{row.label} ({'withdrew' if row.outcome == 'withdrawn' else 'not progressed'}) "
        f"{row.households}"
        for row in top.iloc[::-1].itertuples()
    ]
    alt = f"Bar chart: {heading}. " + (_list(parts) + "." if parts else "Nobody left.")
    return Chart("drop_off", heading, alt, draw)


def channels_chart(channels: pd.DataFrame) -> Chart:
    """Enquiries per source (bars) with approvals beside them (hatched)."""
    heading = "Enquiries and approvals by source"
    top = channels.head(10).iloc[::-1]

    def draw() -> bytes:
        with mpl.rc_context(STYLE):
            fig, ax = _figure(3.6)
            if top.empty:
                _empty(ax, "No enquiries in this period")
            else:
                y = np.arange(len(top))
                h = 0.38
                ax.barh(
                    y + h / 2,
                    top["enquiries"],
                    h,
                    color=BLUE,
                    label="Enquiries",
                    edgecolor="#0b0c0c",
                    linewidth=0.6,
                )
                ax.barh(
                    y - h / 2,
                    top["approvals"],
                    h,
                    color="white",
                    hatch="\\\\\\",
                    edgecolor=GREEN,
                    linewidth=1,
                    label="Approved",
                )
                for yi, e, a in zip(y, top["enquiries"], top["approvals"], strict=True):
                    ax.text(e, yi + h / 2, f" {e:,}", va="center", fontsize=8)
                    share = f" ({a / e:.1%})" if e else ""
                    ax.text(a, yi - h / 2, f" {a:,} approved{share}", va="center", fontsize=8)
                ax.set_yticks(y, [str(s) for s in top["label"]])
                ax.set_xlabel("Households")
                _room_for_labels(ax, float(top["enquiries"].max()))
                _legend(ax)
            ax.set_title(heading)
            return _png(fig)

    parts = [
        f"{row.label} {row.enquiries} enquiries, {row.approvals} approved"
        for row in top.iloc[::-1].itertuples()
    ]
    alt = f"Bar chart: {heading}. " + (_list(parts) + "." if parts else "No enquiries.")
    return Chart("channels", heading, alt, draw)


def retention_chart(movement: pd.DataFrame) -> Chart:
    """Approvals up, deregistrations down (hatched), net change as a line, per month."""
    heading = "Carer households approved and deregistered per month"
    months = list(movement.index)

    def draw() -> bytes:
        with mpl.rc_context(STYLE):
            fig, ax = _figure(3.2)
            x = np.arange(len(months))
            ax.bar(
                x,
                movement["approvals"],
                color=GREEN,
                edgecolor="#0b0c0c",
                linewidth=0.6,
                label="Approved",
            )
            ax.bar(
                x,
                -movement["deregistrations"],
                color="white",
                hatch="xx",
                edgecolor=VERMILLION,
                linewidth=1,
                label="Deregistered",
            )
            ax.plot(
                x,
                movement["net_change"],
                color="#0b0c0c",
                marker="D",
                markersize=4,
                label="Net change",
            )
            ax.axhline(0, color=GREY, linewidth=0.8)
            ax.set_xticks(x, [_month(m) for m in months], fontsize=8)
            ax.set_ylabel("Carer households")
            _legend(ax, ncols=3)
            ax.set_title(heading)
            return _png(fig)

    parts = [
        f"{m} +{a} -{d}"
        for m, a, d in zip(months, movement["approvals"], movement["deregistrations"], strict=True)
    ]
    total_net = int(movement["net_change"].sum())
    alt = (
        f"Chart: {heading}, {months[0] if months else ''} to {months[-1] if months else ''}. "
        f"Net change over the period {total_net:+d}. By month (approved, deregistered): "
        + _list(parts)
        + "."
    )
    return Chart("retention", heading, alt, draw)


def check_in_chart(trend: pd.DataFrame) -> Chart:
    """Average check-in score (1-5) per month, with the share answered beside it."""
    heading = "Carer check-ins: average score per month"
    months = list(trend.index)
    score = trend["average_score"].to_numpy(dtype=float)

    def draw() -> bytes:
        with mpl.rc_context(STYLE):
            fig, ax = _figure(3.0)
            x = np.arange(len(months))
            if np.all(np.isnan(score)):
                _empty(ax, "No check-in answers in this period")
            else:
                ax.plot(x, score, color=BLUE, marker="o", linewidth=2, label="Average score")
                for xi, s in zip(x, score, strict=True):
                    if not np.isnan(s):
                        ax.annotate(
                            f"{s:.1f}",
                            (xi, s),
                            textcoords="offset points",
                            xytext=(0, 6),
                            ha="center",
                            fontsize=8,
                        )
                ax.set_ylim(1, 5.5)
                ax.set_yticks([1, 2, 3, 4, 5])
                ax.set_xticks(x, [_month(m) for m in months], fontsize=8)
                ax.set_ylabel("Score (1 to 5)")
            ax.set_title(heading)
            return _png(fig)

    parts = [f"{m} {s:.1f}" for m, s in zip(months, score, strict=True) if not np.isnan(s)]
    alt = f"Line chart: {heading}. " + (
        _list(parts) + "." if parts else "No answers in this period."
    )
    return Chart("check_ins", heading, alt, draw)
