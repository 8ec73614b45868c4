"""TextGrid text in Praat's long and short formats, written by hand for tests."""

from __future__ import annotations

Tier = tuple[str, list[tuple[float, float, str]]]


def long_textgrid(tiers: list[Tier], xmax: float = 1.0) -> str:
    """A TextGrid in Praat's long text format."""
    lines = [
        'File type = "ooTextFile"',
        'Object class = "TextGrid"',
        "",
        "xmin = 0 ",
        f"xmax = {xmax} ",
        "tiers? <exists> ",
        f"size = {len(tiers)} ",
        "item []: ",
    ]
    for i, (name, intervals) in enumerate(tiers, start=1):
        lines += [
            f"    item [{i}]:",
            '        class = "IntervalTier" ',
            f'        name = "{name}" ',
            "        xmin = 0 ",
            f"        xmax = {xmax} ",
            f"        intervals: size = {len(intervals)} ",
        ]
        for j, (start, end, label) in enumerate(intervals, start=1):
            lines += [
                f"        intervals [{j}]:",
                f"            xmin = {start} ",
                f"            xmax = {end} ",
                f'            text = "{label}" ',
            ]
    return "\n".join(lines) + "\n"


def short_textgrid(tiers: list[Tier], xmax: float = 1.0) -> str:
    """A TextGrid in Praat's short text format."""
    lines = [
        'File type = "ooTextFile short"',
        'Object class = "TextGrid"',
        "",
        "0",
        str(xmax),
        "<exists>",
        str(len(tiers)),
    ]
    for name, intervals in tiers:
        lines += ['"IntervalTier"', f'"{name}"', "0", str(xmax), str(len(intervals))]
        for start, end, label in intervals:
            lines += [str(start), str(end), f'"{label}"']
    return "\n".join(lines) + "\n"
