"""The published Compare-with-SOTA table: seed rows reproduced, deltas recomputed, disagreements listed."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, assert_one_line_error, run_cli
from segbench.report.published import cell, consistency_notes, read_published, table_headers, table_rows

MANIFEST = ROOT / "models_dir" / "manifest.toml"


def test_seed_rows_with_recomputed_deltas():
    rows = table_rows(read_published(MANIFEST), "Compare with SOTA")
    assert rows[0] == ["LR-ASPP", "MobileNetV3_large_x1_0", "33.10", "730.9", "3.20"]
    # 36.70 - 35.0 = +1.7 points; 215.3 / 459.0 - 1 = -53.09%; 1.44 / 1.61 - 1 = -10.56%
    assert rows[4] == ["PP-MobileSeg-Tiny", "MobileSegNet-T", "36.70 (+1.7)", "215.3 (-53.1%)", "1.44 (-10.6%)"]
    # 41.50 - 40.0 = +1.5; 265.5 / 465.4 - 1 = -42.95%; 5.62 / 8.64 - 1 = -34.95%
    assert rows[6] == ["PP-MobileSeg-Base", "MobileSegNet-B", "41.50 (+1.5)", "265.5 (-43.0%)", "5.62 (-35.0%)"]
    assert len(rows) == 7


def test_baseline_override():
    rows = table_rows(read_published(MANIFEST), "Compare with SOTA", {"PP-MobileSeg-Tiny": "LR-ASPP"})
    # 36.70 - 33.10 = +3.6; 215.3 / 730.9 - 1 = -70.54%
    assert rows[4][2:4] == ["36.70 (+3.6)", "215.3 (-70.5%)"]


def test_consistency_notes_find_the_wrong_deltas_and_cross_table_differences():
    notes = consistency_notes(read_published(MANIFEST))
    wrong = [n for n in notes if "prints" in n]
    # -48.2% printed, -53.1% computed; -42.3% printed, -43.0% computed. params -34.9% vs -34.95% is within 0.1.
    assert len(wrong) == 2
    assert "PP-MobileSeg-Tiny latency (ms) prints -48.2%" in wrong[0] and "-53.1%" in wrong[0]
    assert "PP-MobileSeg-Base latency (ms) prints -42.3%" in wrong[1] and "-43.0%" in wrong[1]
    assert any("PP-MobileSeg-Tiny params (M) is 1.44 in Compare with SOTA" in n and "1.61 in Performance" in n
               for n in notes)
    assert any("PP-MobileSeg-Base mIoU (%) is 41.5" in n and "41.24" in n for n in notes)


def test_cell_formats():
    assert cell("miou", 36.7, 35.0) == "36.70 (+1.7)"
    assert cell("latency_ms", 215.3, None) == "215.3"
    assert cell("params_m", None, 1.0) == ""


def test_cli_published_markdown():
    res = run_cli("report", "--published", "--manifest", str(MANIFEST))
    assert res.code == 0, res.err
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in res.out.splitlines() if line.startswith("|")]
    assert ["PP-MobileSeg-Tiny", "MobileSegNet-T", "36.70 (+1.7)", "215.3 (-53.1%)", "1.44 (-10.6%)"] in cells
    assert "prints -48.2%" in res.out


def test_cli_published_errors(tmp_path: Path):
    assert_one_line_error(run_cli("report", "--published", "--manifest", str(MANIFEST), "--table", "nope"), 1)
    bad = tmp_path / "manifest.toml"
    bad.write_text("[[published]\n")
    assert_one_line_error(run_cli("report", "--published", "--manifest", str(bad)), 1)
    assert_one_line_error(run_cli("report", "--published", "--manifest", str(MANIFEST), "--baseline", "x"), 2)


def test_pareto_front():
    from segbench.report.plots import pareto_front

    # (latency, mIoU): the 300 ms / 30% point is beaten by 200 ms / 35%; 500 ms / 40% is on the front.
    assert pareto_front([(300.0, 30.0), (200.0, 35.0), (500.0, 40.0), (450.0, 38.0)]) == [1, 3, 2]


def test_cli_published_plots(tmp_path: Path):
    res = run_cli("report", "--published", "--manifest", str(MANIFEST), "--plot", str(tmp_path / "plots"))
    assert res.code == 0, res.err
    for stem in ("latency_vs_miou", "params_vs_latency"):
        png = (tmp_path / "plots" / f"{stem}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        svg = (tmp_path / "plots" / f"{stem}.svg").read_text()
        assert "<svg" in svg
    assert "Pareto front" in (tmp_path / "plots" / "latency_vs_miou.svg").read_text()


def test_ti_table_has_miou_without_latency():
    rows = read_published(MANIFEST)
    # TI's layout: no latency/params columns; GMACs as printed; resolution shown because one row is 384x384.
    assert table_headers(rows, "TI edgeai ADE20K32") == ["Model", "Backbone", "resolution", "GMACs", "mIoU (%)"]
    ti = table_rows(rows, "TI edgeai ADE20K32")
    assert len(ti) == 6 and ti[0] == ["MobileNetV2S16+DeepLabV3PlusEdgeAILite", "MobileNetV2 (OS16)", "512x512",
                                      "3.28", "51.01"]
    assert ti[4][2:] == ["384x384", "3.1526", "51.03"]
    # The SOTA table keeps the seed's five columns (dataset/resolution are the same on every row).
    assert table_headers(rows, "Compare with SOTA") == ["Model", "Backbone", "mIoU (%)", "latency (ms)", "params (M)"]
    assert next(r for r in rows if r.model == "RegNetX800MF+FPNEdgeAILite").extra["gmacs"] == 8.0683


def test_zoo2_tables_render_and_name_the_zoo_models():
    # TI's COCOSeg21 (4 rows) and Cityscapes (22 rows) blocks, MOSAIC's and MLPerf's rows (issue 10).
    from segbench.zoo.registry import ZOO2

    rows = read_published(MANIFEST)
    assert len(table_rows(rows, "TI edgeai COCOSeg21")) == 4 and len(table_rows(rows, "TI edgeai Cityscapes")) == 22
    by_model = {r.model: r for r in rows}
    for zoo in ZOO2:  # every zoo II model has a published row under its own name, with the same figures
        row = by_model[zoo.title]
        assert row.values.get("miou") == zoo.published.get("miou")
        assert row.extra.get("gmacs") == zoo.published.get("gmacs")
    r = run_cli("report", "--published", "--table", "TI edgeai Cityscapes")
    assert r.code == 0, r.err
    assert "| MobileNetV2+UNetEdgeAILite-QAT*" in r.out and "| 68.18" in r.out
    assert "RegNetX3.2FF+FPNEdgeAILite" in r.out  # as printed (the model column says regnetx3p2gf)


def test_a_plot_directory_that_cannot_be_made_is_one_error(tmp_path: Path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    for fmt in ("markdown", "html"):
        res = run_cli("report", "--published", "--manifest", str(MANIFEST), "--format", fmt,
                      "--plot", str(blocker / "plots"))
        assert_one_line_error(res, 1)
        assert f"cannot write plots to {blocker / 'plots'}" in res.err
