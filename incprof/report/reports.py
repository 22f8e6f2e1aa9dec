"""The markdown reports under reports/, with their figures. Deterministic: same code, same bytes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..analysis.claims import check_claims
from ..analysis.compare import compare_modules_records, compare_networks_records, resolve_side
from ..analysis.lab import factorization_records, grid_records
from ..analysis.profile import profile_records
from ..analysis.sweep import lowres_records, sweep_records
from ..files import write_atomic
from ..records import Records
from .document import HEADER, REGENERATE, document
from .papers import papers_sections
from ..render import compare as render_compare
from ..render import grid as render
from ..render import measure as render_measure
from ..render import plot
from ..render import profile as render_profile
from ..spec.registry import available, resolve
from .training import training_document, training_section
from . import diagrams

def _pct_list(rows: list[dict], column: str, limit: float) -> str:
    return ", ".join(f"{r['row']} ({r[column]:+.1f}%)" for r in rows
                     if r[column] is not None and abs(r[column]) > limit)


def googlenet_report(out: Path) -> str:
    """googlenet.md: Table 1, paper against measured, with flags, totals and the depth check."""
    profile = profile_records("googlenet", verify=True)
    tv = profile_records("googlenet", flavor="torchvision", verify=True)
    t, tvt = profile.attrs["totals"], tv.attrs["totals"]
    main = [row for row in profile.rows if not row["aux"]]
    (conv1,) = [row for row in main if row["row"] == "conv1"]
    (published,) = tvt["published"]
    plot.rows_params_macs_bars(profile, out / "googlenet-rows.svg")
    plot.paper_vs_measured_bars(profile, out / "googlenet-paper-vs-measured.svg")
    summary = (
        f"Built from `tables/googlenet.yaml`, the paper-faithful GoogLeNet has "
        f"**{t['params']:,} parameters and {t['macs']:,} MACs** per 224x224 image at inference "
        f"({t['params_with_aux']:,} params with the two auxiliary heads). FlopCounterMode on "
        f"the built network {'agrees' if t['check_agrees'] else 'DISAGREES'} with the analytic "
        f"counts on all {len(profile.rows)} rows. Table 1's ops column is within 1% of the "
        f"computed MACs on every row but {_pct_list(main, 'paper_ops_delta_pct', 1.0)}; its params "
        f"column (read with K = 1024) is within 2% on every row but "
        f"{_pct_list(main, 'paper_params_delta_pct', 2.0)}. Against conv1's printed "
        f"{conv1['printed_params']} / {conv1['printed_ops']}, a depthwise-separable 7x7 conv with "
        f"depth multiplier 8 ({conv1['alt_params']:,} params, {conv1['alt_macs']:,} "
        f"MACs) is off by {conv1['alt_params_delta_pct']:+.1f}% in params and "
        f"{conv1['alt_ops_delta_pct']:+.1f}% in ops (the conv1 note below gives the precision). "
        f"The depth column sums to {t['depth']}; the paper says {t['paper_depth']}. The torchvision "
        f"flavour has {tvt['params']:,} params "
        f"({'matching' if published['params_matches'] else 'NOT matching'} torchvision's "
        f"published figure) and {tvt['macs'] / 1e9:.3f} G MACs.")
    sections = [
        "## Table 1, printed against computed\n",
        "`incprof table --arch googlenet --format markdown`; Δ = printed / computed - 1.\n",
        render_profile.to_markdown(profile),
        "## The torchvision flavour\n",
        "`incprof table --arch googlenet --flavor torchvision`: conv + BatchNorm (eps 0.001) "
        "instead of biases, no LRN, a 3x3 kernel in the \"5x5\" branch (pytorch/vision#906), a "
        "2x2 last max pool, adaptive average pools (1x1 main, 4x4 in the aux heads) and dropout "
        "0.2.\n",
        *(f"- {line}" for line in render_profile.summary_lines(tv)[1:]),
        "",
        "## Figures\n",
        "![params and MACs per row](googlenet-rows.svg)\n",
        "![paper against computed](googlenet-paper-vs-measured.svg)\n",
    ]
    return document("GoogLeNet: Table 1 reproduced", summary, sections, [profile, tv])


def naive_report(out: Path) -> str:
    """naive-vs-reduced.md: module- and network-level comparison, with plots."""
    a, b = resolve_side("naive"), resolve_side("reduced")
    labels = ("naive", "reduced")
    modules = compare_modules_records(a, b, verify=True, labels=labels)
    network = compare_networks_records(a, b, verify=True, labels=labels)
    mt, nt = modules.attrs["totals"], network.attrs["totals"]
    plot.module_macs_bars(modules, out / "naive-vs-reduced-modules.svg")
    plot.module_macs_bars(replace(network, rows=[row for row in network.rows if row["a_macs"] > 0]),
                          out / "naive-vs-reduced-network.svg")
    first = modules.rows[0]
    last = [row for row in network.rows if row["row"].startswith("inception")][-1]
    savings = [row["macs_saving_pct"] for row in modules.rows]
    summary = (
        f"Module by module, each on its Table 1 input, the 1x1 reductions cut the nine Inception "
        f"modules from {mt['a_macs']:,} to {mt['b_macs']:,} MACs "
        f"({render_compare.fewer(mt['macs_saving_pct'])}) and from {mt['a_params']:,} to "
        f"{mt['b_params']:,} params ({render_compare.fewer(mt['params_saving_pct'])}); the saving "
        f"(1 - reduced/naive) ranges from {min(savings)}% to {max(savings)}% per module. "
        "The naive modules are also wider: "
        f"{first['row']} outputs {first['a_out_channels']} channels against "
        f"{first['b_out_channels']}, because the pool branch passes every input channel through. "
        f"Carried through the whole network, that growth ends at {last['a_output']} against "
        f"{last['b_output']}: the naive network has {nt['a_params']:,} params and "
        f"{nt['a_macs']:,} MACs, {nt['params_ratio']}x and {nt['macs_ratio']}x the reduced "
        f"network's {nt['b_params']:,} and {nt['b_macs']:,}.")
    sections = [
        "## Per module, on the same input\n",
        "`incprof compare naive reduced --level module --format markdown`\n",
        render.grid_markdown(render_compare.comparison_grid(modules, exact=True)),
        "![MACs per module](naive-vs-reduced-modules.svg)\n",
        "## Whole networks\n",
        "`incprof compare naive reduced --level network --format markdown`\n",
        render.grid_markdown(render_compare.comparison_grid(network, exact=True)),
        "![MACs per row, whole networks](naive-vs-reduced-network.svg)\n",
    ]
    return document("Naive against reduced Inception modules", summary, sections,
                     [modules, network], opening=diagrams.figure2(out))


def factorization_report(out: Path) -> str:
    """factorizations.md: the v3 savings against the paper, and factorized GoogLeNet."""
    rules, grid = factorization_records(verify=True), grid_records(verify=True)
    paper_grid = grid_records(kernel=1, verify=True)
    plot.savings_bars(rules, grid, out / "factorization-savings.svg")
    v3 = profile_records("inception_v3", verify=True)
    plot.macs_by_kind_bars(v3, out / "inception_v3-macs-by-kind.svg")
    base = resolve_side("reduced")
    variants = {name: compare_modules_records(base, resolve_side(name), verify=True,
                                              labels=("reduced", name))
                for name in ("factorized", "factorized_asym")}
    grids = compare_modules_records(resolve_side("grid_conv_then_pool"),
                                    resolve_side("grid_parallel"), verify=True,
                                    labels=("grid_conv_then_pool", "grid_parallel"))
    r = {row["rule"]: row for row in rules.rows}
    stated = ", ".join(f"{rule} saves {row['saving_per_position_pct']}% (paper: "
                       f"{row['paper_saving_pct']:.0f}%)"
                       for rule, row in r.items() if row["paper_saving_pct"] is not None)
    g = {row["form"]: row for row in grid.rows}
    paper_d2k2 = paper_grid.rows[0]["macs_per_d2k2"]
    ft = variants["factorized"].attrs["totals"]
    summary = (
        f"At equal width ({rules.attrs['meta']['cin']} channels in and out), per output "
        f"position: {stated}. Two 2x2 convs save less on a real grid "
        f"({r['3x3 -> two 2x2']['saving_on_grid_pct']}%) because the first must pad. A grid "
        f"reduction from d x d x k to (d/2) x (d/2) x 2k costs {paper_d2k2:g}"
        f"d²k² MACs as conv then pool with 1x1 convs "
        f"({'equal to' if paper_d2k2 == 2 else 'against'} the paper's "
        f"2d²k²); pool then conv costs {g['pool then conv']['relative_to_conv_then_pool']:g}"
        f" of that and the parallel module {g['parallel']['relative_to_conv_then_pool']:g} "
        f"({g['parallel']['macs']:,} against "
        f"{g['conv then pool']['macs']:,} MACs with 3x3 convs at d = "
        f"{grid.attrs['meta']['d']}, k = {grid.attrs['meta']['k']}). Applied to GoogLeNet's "
        f"modules, where the 5x5 conv widens a narrow reduction (16 -> 32 in 3a), two 3x3 at the "
        f"output width need {render_compare.fewer(ft['macs_saving_pct'])} MACs than the reduced modules "
        f"(saved = 1 - factorized/reduced = {ft['macs_saving_pct']}%, against "
        f"{r['5x5 -> two 3x3']['saving_per_position_pct']}% at equal width). The Inception-v3 "
        f"network has {v3.attrs['totals']['macs']:,} "
        f"MACs; the figure shows where its factorized convs put them.")
    sections = [
        "## One conv at a time\n",
        "`incprof factorize --format markdown`\n",
        "\n".join(render.grid_markdown(grid_) for grid_ in render_compare.factorization_grids(
            rules, grid, exact=True)),
        "With 1x1 convs (`incprof factorize --grid-kernel 1`), the paper's own measure:\n",
        render.grid_markdown(render_compare.factorization_grids(rules, paper_grid, exact=True)[1]),
        "![savings per rule](factorization-savings.svg)\n",
        "## GoogLeNet with factorized modules\n",
        "`incprof compare reduced factorized --level module --format markdown` "
        "(every 5x5 in a module as two 3x3):\n",
        render.grid_markdown(render_compare.comparison_grid(variants["factorized"], exact=True)),
        "`incprof compare reduced factorized_asym --level module --format markdown` (then every "
        "3x3 in a module as 1x3 + 3x1):\n",
        render.grid_markdown(render_compare.comparison_grid(variants["factorized_asym"], exact=True)),
        "## GoogLeNet with v3 grid reductions\n",
        "`incprof compare grid_conv_then_pool grid_parallel --level module --format markdown`: "
        "each stride-2 max pool before a module becomes a reduction to twice the channels.\n",
        render.grid_markdown(render_compare.comparison_grid(grids, exact=True)),
        "## The Inception-v3 network\n",
        "Where the factorized convs put the MACs (`incprof table --arch inception_v3 --plot "
        "v3.svg`); [inception_v3.md](inception_v3.md) checks the table against the paper.\n",
        "![Inception-v3 MACs by conv kind](inception_v3-macs-by-kind.svg)\n",
        render_profile.to_markdown(v3),
    ]
    return document("Factorizations: the Inception-v3 arithmetic", summary, sections,
                     [rules, grid, paper_grid, *variants.values(), grids, v3],
                     opening=diagrams.factorized_modules(out))


def inception_v3_report(out: Path) -> str:
    """inception_v3.md: the v3 table, the paper's claims checked, and its low-resolution
    experiment built."""
    profile = profile_records("inception_v3", verify=True)
    t = profile.attrs["totals"]
    (published,) = t["published"]
    plot.rows_params_macs_bars(profile, out / "inception_v3-rows.svg")
    claims = check_claims(resolve("inception_v3"))
    checked = [c for c in claims if c["verdict"] in ("holds", "does not hold")]
    summary = (
        f"Built from `tables/inception_v3.yaml` (torchvision's widths), Inception-v3 has "
        f"**{t['params']:,} params without the aux head and {t['params_with_aux']:,} with it**, "
        f"which {'is' if published['params_matches'] else 'is NOT'} torchvision's published "
        f"figure, and {t['macs']:,} MACs per 299x299 image ({published['macs']} published). "
        f"FlopCounterMode "
        f"{'agrees on every row' if t['check_agrees'] else 'DISAGREES on some rows'}. "
        f"Of the paper's "
        f"claims, {sum(c['verdict'] == 'holds' for c in checked)} of {len(checked)} checks hold "
        f"and {len(claims) - len(checked)} not checked ("
        f"{'; '.join(sorted({c['verdict'] for c in claims if c not in checked}))}; see below). The "
        f"{sum(row['flag'] is not None for row in profile.rows)} rows whose printed sizes differ from the "
        "built ones (the "
        f"stem, where the paper's table and the reference implementations differ) are flagged "
        f"below.")
    lowres = lowres_records(resolve_side("inception_v3"))
    sizes = sweep_records(resolve_side("inception_v3"), [79, 151, 299])
    sections = [
        "## The paper's claims\n",
        "Measured on the built-in specs at their native sizes (Inception-v3 at 299x299, "
        "GoogLeNet at 224x224); each row names the build it judged.\n",
        render.grid_markdown(render_measure.claims_grid(
            "Inception-v3 paper (arXiv:1512.00567): claims against counts", claims)),
        "## The table\n",
        "`incprof table --arch inception_v3 --format markdown`\n",
        render_profile.to_markdown(profile),
        "![params and MACs per row](inception_v3-rows.svg)\n",
        "## The low-resolution experiment (section 9)\n",
        "The paper keeps the cost of a lower-resolution input constant by changing the first "
        "layers. The three networks are the variants `lowres_299`, `lowres_151` and `lowres_79` "
        "(`incprof compare lowres_299 lowres_79 --arch inception_v3` shows them row by row; "
        "incprof.spec.variants.lowres documents how the paper's words are read).\n",
        render.grid_markdown(render_compare.lowres_grid(lowres)),
        "## The unchanged network at lower inputs (not the paper's experiment)\n",
        "The network as built for 299x299, fed smaller inputs with no change to its layers: "
        "`incprof sweep --arch inception_v3 --input-size 79,151,299 --format markdown`\n",
        render.grid_markdown(render_compare.sweep_grid(sizes, exact=True)),
    ]
    return document("Inception-v3: the layer table", summary, sections, [profile, lowres, sizes])


def family_records() -> Records:
    """One row per built-in network (paper flavour, own input size, no aux heads): year, input,
    params, MACs, depth, receptive field and how many of its paper's claims hold; each network's
    profile in ``attrs["profiles"]``, in the same order."""
    records, profiles = [], []
    for name in available():
        spec = resolve(name)
        profile = profile_records(spec, aux=False)
        t = profile.attrs["totals"]
        checked = [c["verdict"] for c in check_claims(spec)]
        held = sum(v == "holds" for v in checked)
        tested = sum(v in ("holds", "does not hold") for v in checked)
        records.append({"arch": name, "title": spec.title, "year": spec.year,
                        "input": f"{spec.input[1]}x{spec.input[2]}", "params": t["params"],
                        "macs": t["macs"], "depth": t["depth"],
                        "receptive_field": f"{t['receptive_field'][0]}x{t['receptive_field'][1]}",
                        "claims": f"{held} of {tested} hold" if tested else ""})
        profiles.append(profile)
    order = sorted(range(len(records)), key=lambda i: (records[i]["year"] or 0, records[i]["arch"]))
    return Records(list(records[0]), [records[i] for i in order],
                   {"profiles": [profiles[i] for i in order]})


def family_report(out: Path) -> str:
    """family.md: every built-in network side by side, and each paper's claims checked."""
    family = family_records()
    plot.family_params_macs(family, out / "family-params-vs-macs.svg")
    cheapest = min(family.rows, key=lambda r: r["macs"])
    costliest = max(family.rows, key=lambda r: r["macs"])
    summary = (
        f"{len(family.rows)} networks, each built from its paper's table or figures in `tables/`. "
        f"Per image at its own input size, the cheapest is {cheapest['arch']} "
        f"({cheapest['macs']:,} MACs) and the costliest "
        f"{costliest['arch']} ({costliest['macs']:,} MACs, "
        f"{costliest['macs'] / cheapest['macs']:.1f}x). Of the papers' claims that "
        f"can be checked, the counts bear out the ones marked `holds` below.")
    table = render.Grid(
        "The Inception family (inference, paper flavour, no aux heads, batch 1)",
        [("arch", "left"), ("year", "right"), ("input", "right"), ("params", "right"),
         ("MACs", "right"), ("depth", "right"), ("receptive field", "right"),
         ("claims", "left")],
        [[r["arch"], str(r["year"] or ""), r["input"], f"{r['params']:,}", f"{r['macs']:,}",
          str(r["depth"]), r["receptive_field"], r["claims"]] for r in family.rows],
        summary=["depth: convs and linear layers on the longest path (a separable conv counts "
                 "once); receptive field at the last row, in input pixels."])
    sections = ["## Side by side\n", render.grid_markdown(table),
                "![params against MACs](family-params-vs-macs.svg)\n",
                *training_section([r["arch"] for r in family.rows]),
                "## Each paper's claims\n",
                "`incprof.analysis.claims` checks each claim in a table's `claims:` list: equal at the "
                "precision the paper prints (rounded half up), or a bound.\n"]
    for name in (r["arch"] for r in family.rows):
        spec = resolve(name)
        if spec.claims:
            sections += [f"### {name}: {spec.title}\n",
                         render.grid_markdown(render_measure.claims_grid(spec.title, check_claims(spec)))]
    sections += papers_sections()
    return document("The Inception family", summary, sections, family.attrs["profiles"])


def referee_report(out: Path) -> str:
    """referee.md: every peer counter's total on every built-in network, predicted to the unit
    from incprof's per-op counts, and every published figure refereed."""
    from ..referee.conventions import CONVENTIONS
    from ..referee.referee import referee_runs
    from ..referee.peers import DESCRIPTIONS
    from ..referee.published import referee_figures

    runs = referee_runs()
    ran = [(r, t) for r in runs for t in r["tools"] if t["installed"]]
    plot.referee_scatter([{"tool": t["tool"], "predicted": t["predicted"],
                          "reported": t["reported"]} for _, t in ran],
                         out / "referee-reported-vs-predicted.svg")
    missing = sorted({t["tool"] for r in runs for t in r["tools"] if not t["installed"]})
    nonzero = [(r, t) for r, t in ran if t["residual"] or t["params_residual"]]
    summary = (
        f"{len(runs)} networks and flavours, {len(ran)} peer totals: "
        + ("every one is predicted to the unit (residual 0) from incprof's own per-op counts "
           "under the tool's conventions." if not nonzero else
           f"{len(nonzero)} are NOT predicted to the unit (see 'residual from').")
        + (f" Not installed here: {', '.join(missing)}." if missing else ""))
    tools = render.Grid(
        "What each peer counts", [("tool", "left"), ("unit", "left"), ("convention", "left")],
        [[tool, CONVENTIONS[tool]["unit"], DESCRIPTIONS[tool]] for tool in DESCRIPTIONS])
    sections = ["## What each peer counts\n", render.grid_markdown(tools),
                "## Reported against predicted\n",
                "![each tool's total against incprof's prediction for it]"
                "(referee-reported-vs-predicted.svg)\n"]
    for r in runs:
        grid = render_measure.referee_grid(r)
        grid.notes, grid.conventions = [], ""  # the conventions are listed above
        sections += [f"### {grid.title}\n", render.grid_markdown(grid)]
    sections += ["## Published figures, refereed\n",
                 render.grid_markdown(render_measure.figures_grid(
                     [f for name in available() for f in referee_figures(name)],
                     "Published figures"))]
    return "\n".join([
        "# The referee: peer counters and published figures\n",
        HEADER.format(command=REGENERATE), summary + "\n",
        "Each table: the network built in eval mode with its aux heads (which do not run), a "
        "zero input of batch 1 at its own input size; reported is the tool's total, predicted "
        "incprof's, residual = reported - predicted. `incprof referee --arch NAME` prints one.\n",
        *sections])


def training_report(out: Path) -> str:
    """training.md: each built-in network's training step, row by row."""
    return training_document(HEADER.format(command=REGENERATE))


from .ceilings import ceilings_report  # noqa: E402 (after the reports it is listed with)

REPORTS = {"googlenet.md": googlenet_report, "naive-vs-reduced.md": naive_report,
           "factorizations.md": factorization_report, "inception_v3.md": inception_v3_report,
           "family.md": family_report, "training.md": training_report,
           "ceilings.md": ceilings_report}
# The report that runs every peer counter (incprof[peers]) on every built-in network: written
# only when asked for (`incprof report --referee`), being most of the time of all of them.
REFEREE_REPORTS = {"referee.md": referee_report}


def write_reports(out: Path, progress=None, referee: bool = False) -> list[Path]:
    """Write every counting report (and its figures) into ``out``, with ``referee`` the peers'
    report too; returns the markdown paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in {**REPORTS, **(REFEREE_REPORTS if referee else {})}.items():
        write_atomic(out / name, make(out))
        written.append(out / name)
        if progress:
            progress(name)
    return written
