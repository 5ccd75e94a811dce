"""The SVG charts: well-formed XML, every bar a link, every label escaped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from medcom_bridge.web.charts import Bar, bar_chart

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&amp; "quoted" \'single\''


def test_a_chart_is_well_formed_svg_with_a_link_per_bar() -> None:
    bars = [Bar("jan 26", 3, "/ui/flows?figure=letters&month=2026-01"), Bar(HOSTILE, 0, None)]
    svg = bar_chart(HOSTILE, bars, element_id="monthly-chart")
    root = etree.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg" and root.get("id") == "monthly-chart"
    assert root.findtext(f"{SVG}title") == HOSTILE
    links = root.findall(f"{SVG}a")
    assert [a.get("href") for a in links] == ["/ui/flows?figure=letters&month=2026-01"]
    assert "<script>" not in svg
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert HOSTILE in labels and "jan 26" in labels and "3" in labels


@given(
    st.lists(
        st.tuples(st.text(max_size=20), st.integers(min_value=0, max_value=10**7), st.text(max_size=30)),
        max_size=14,
    ),
    st.text(max_size=40),
)
def test_any_labels_and_values_give_well_formed_svg(raw: list[tuple[str, int, str]], title: str) -> None:
    # XML 1.0 cannot carry control characters at all; labels are GLNs, names and month names.
    clean = [
        ("".join(c for c in s if c.isprintable()), n, "".join(c for c in h if c.isprintable()))
        for s, n, h in raw
    ]
    svg = bar_chart("".join(c for c in title if c.isprintable()), [Bar(s, n, h or None) for s, n, h in clean])
    root = etree.fromstring(svg.encode())
    assert len(list(root.iter(f"{SVG}rect"))) == len(raw)
