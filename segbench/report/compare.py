"""`segbench compare`: pair the cases of two runs and decide regression vs noise.

Rule (docs/report.md). Launches are the unit of evidence: each record of a case is one launch (``run
--launches K``), and its figure is the median of its timed runs (the tool's median, else its avg). With at least
two launches on each side, r is the ratio of the geometric means of the launch figures and its interval is
Welch's t interval on the log scale, at 1 - 0.05 / (cases compared) confidence (Bonferroni: the gate's false-alarm
rate stays near 5% for the whole comparison, not for each case): the noise the comparison allows for is the launch-to-launch variation, which
is most of a benchmark's variance. A case regresses when the whole interval lies above 1 + threshold: the noise
cannot explain a slowdown of the threshold's size. Improvements are the mirror image. A case whose ratio is past the
threshold but whose interval is not wholly past it is ``unclear``: the launches suggest a change they cannot yet
confirm, and more launches (``run --resume RUN --launches 2K``) decide it, as Chromium's Pinpoint adds repeats to a
comparison that is neither clearly different nor clearly the same. Unclear cases keep the gate green.

``clock="cpu"`` judges host runs on the CPU time their process spent per run instead of wall time (time spent
waiting for a CPU that other work holds is not in it): a gate on a shared, loaded machine. A pair whose records
lack CPU times (tools on a phone) is judged on wall time, and its "why" says so.

With one launch on a side the verdict is marked weak: the interval can then only come from within that launch,
a bootstrap of the median ratio over its iterations (both sample sets resampled with replacement, 2000 times,
fixed seed), or, for records with only a tool's summary, from its mean, standard deviation and run count
(benchmark_model), normal on the log scale; without those (benchmark_bin prints min/max/avg) the threshold alone.
Such an interval misses launch-to-launch variation, so it is narrower than the truth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from segbench import stats
from segbench.model import Measurement

if TYPE_CHECKING:
    from segbench.columns import Columns

BOOTSTRAP = 2000
T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    case: str
    baseline_ms: float | None
    candidate_ms: float | None
    ratio: float | None
    ci: tuple[float, float] | None
    status: str  # regression | improved | same | unclear | missing | failed
    reason: str
    evidence: str = ""  # "3+3 launches", or why the verdict is weak


# Statuses of a candidate's case that keep a gate from being green.
BLOCKING = ("regression", "failed")


# The bootstrap draws BOOTSTRAP resamples of each side; a side longer than this is first subsampled (without
# replacement, seeded) so that memory stays bounded whatever a run's length: a million repeats would otherwise
# need 2000 x 1e6 floats (16 GB) per side. A subsample can only widen the interval, never narrow it.
BOOTSTRAP_MAX_N = 4096
_CHUNK = 250  # resamples drawn at a time


def ratio_ci(base: Sequence[float], cand: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of median(cand) / median(base), in bounded memory."""
    rng = np.random.default_rng(seed)
    b, c = (_bounded(np.asarray(x, dtype=np.float64), rng) for x in (base, cand))
    ratios = np.concatenate([
        np.median(rng.choice(c, size=(n, c.size)), axis=1) / np.median(rng.choice(b, size=(n, b.size)), axis=1)
        for n in [_CHUNK] * (BOOTSTRAP // _CHUNK)])
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return float(lo), float(hi)


def _bounded(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(a, size=BOOTSTRAP_MAX_N, replace=False) if a.size > BOOTSTRAP_MAX_N else a


def certain(r: float, base: Sequence[float], cand: Sequence[float], threshold: float) -> tuple[str, str] | None:
    """(status, why) when the bootstrap's interval cannot change the verdict, so none is drawn; else None.

    A ratio within the threshold is ``same`` whatever its interval. Outside it, every resample's median lies between
    its side's smallest and largest run, so the interval lies within [min(cand) / max(base), max(cand) / min(base)]:
    when that bound is past the threshold on the ratio's side, so is the interval, and the verdict is settled."""
    if 1 - threshold <= r <= 1 + threshold:
        return "same", f"within the {threshold:.1%} threshold: no interval needed"
    b, c = np.asarray(base, dtype=np.float64), np.asarray(cand, dtype=np.float64)
    if r > 1 + threshold and c.min() / b.max() > 1 + threshold:
        return "regression", f"every candidate run {c.min() / b.max():.3f}x or more of every baseline run"
    if r < 1 - threshold and c.max() / b.min() < 1 - threshold:
        return "improved", f"every candidate run {c.max() / b.min():.3f}x or less of every baseline run"
    return None


def summary_ratio_ci(base: Measurement, cand: Measurement) -> tuple[float, float] | None:
    """95% interval of mean(cand) / mean(base) from each record's avg, std and run count: the standard error
    of each log mean is (std / avg) / sqrt(count), and log(ratio) is taken as normal (delta method; the tools
    run tens of times). None when either record lacks one of the three."""
    parts = []
    for m in (base, cand):
        avg, std, n = m.latency_ms.avg, m.latency_ms.std, m.count
        if not avg or avg <= 0 or std is None or std < 0 or not n or n < 2:
            return None
        parts.append((avg, (std / avg) ** 2 / n))
    (b_avg, b_var), (c_avg, c_var) = parts
    centre, half = math.log(c_avg / b_avg), 1.959964 * math.sqrt(b_var + c_var)
    return math.exp(centre - half), math.exp(centre + half)


def judge(case: str, base: Measurement, cand: Measurement, threshold: float) -> Verdict:
    if base.status != "ok" or cand.status != "ok":
        which = "baseline" if base.status != "ok" else "candidate"
        return Verdict(case, None, None, None, None, "failed", f"{which} case {base.status if which == 'baseline' else cand.status}")
    bm, cm = stats.launch_figure(base), stats.launch_figure(cand)
    if not bm or cm is None:
        return Verdict(case, bm, cm, None, None, "failed", "no latency figure")
    r = cm / bm
    if base.samples_ms and cand.samples_ms and (clear := certain(r, base.samples_ms, cand.samples_ms, threshold)):
        return Verdict(case, bm, cm, r, None, clear[0],
                       f"{(r - 1) * 100:+.1f}% ({clear[1]}){_heat([base], [cand])}{_differs([base], [cand])}")
    if base.samples_ms and cand.samples_ms:
        ci = ratio_ci(base.samples_ms, cand.samples_ms)
        basis = f"95% CI {ci[0]:.3f}-{ci[1]:.3f}"
    elif (ci := summary_ratio_ci(base, cand)) is not None:
        basis = f"95% CI {ci[0]:.3f}-{ci[1]:.3f} of the mean, from the tools' avg/std"
    else:
        basis = "threshold only (no samples)"
    reason = f"{(r - 1) * 100:+.1f}% ({basis}){_heat([base], [cand])}{_differs([base], [cand])}"
    return Verdict(case, bm, cm, r, ci, _status(r, ci, threshold), reason)


def _differs(base: Sequence[Measurement], cand: Sequence[Measurement]) -> str:
    """'; differs: model file 3f2a9c1b -> 77d0e412, tool v2.12 -> v2.13': what changed between the two sides of a
    pair (often the change under test), so a verdict is never read as being about the same file and tool."""
    said = []
    for what, get, short in (("model file", lambda m: m.model.sha256, lambda v: str(v)[:8]),
                             ("tool", lambda m: " ".join(x for x in (m.tool, m.tool_version) if x), str),
                             ("backend", lambda m: getattr(m, "backend", None) or "cpu", str)):
        b, c = {v for m in base if (v := get(m))}, {v for m in cand if (v := get(m))}
        if b != c and b and c:
            said.append(f"{what} {', '.join(sorted(short(v) for v in b))} -> {', '.join(sorted(short(v) for v in c))}")
    return f"; differs: {', '.join(said)}" if said else ""


def _heat(base: Sequence[Measurement], cand: Sequence[Measurement]) -> str:
    """'; candidate throttled (at start)': a slowdown that heat may explain says so."""
    said = []
    for which, records in (("baseline", base), ("candidate", cand)):
        hot = [m for m in records if m.throttled]
        if hot:
            start = " (at start)" if any(m.throttled_at_start for m in hot) else ""
            some = f" in {len(hot)} of {len(records)} launches" if len(records) > 1 else ""
            said.append(f"{which} throttled{start}{some}")
    return f"; {', '.join(said)}" if said else ""


def _key(m: Measurement, by_device: bool = False) -> str:
    return case_key(m.model.name, m.runtime, m.threads, m.power_mode, m.backend, m.device_id if by_device else None)


def case_key(name: str, runtime: str, threads: int | None, mode: str | None, backend: str | None,
             device: str | None = None) -> str:
    """How compare pairs a case across two runs: name and configuration (and the phone, in a farm run)."""
    case = f"{name} {runtime} t{threads} {mode}"
    if backend not in (None, "cpu"):  # CPU cases keep the keys they had before backends
        case += f" {backend}"
    return f"{case} @{device}" if device is not None else case


def judge_launches(case: str, base: Sequence[Measurement], cand: Sequence[Measurement], threshold: float,
                   family: int = 1, clock: str = "wall") -> Verdict:
    """The verdict on one case from all its launches on each side (one record per launch). ``family`` is how many
    cases the comparison judges: each gets a 1 - 0.05 / family interval (Bonferroni), so that a gate over many
    cases keeps its false-alarm rate near 5% for the whole comparison, not for each case. ``clock``: "wall", or
    "cpu" (the module's docstring)."""
    b_ok, c_ok = [m for m in base if m.status == "ok"], [m for m in cand if m.status == "ok"]
    if not b_ok or not c_ok:
        which, records = ("baseline", base) if not b_ok else ("candidate", cand)
        return Verdict(case, None, None, None, None, "failed",
                       f"{which} case {records[-1].status}" + (f" in all {len(records)} launches" if len(records) > 1 else ""))
    dropped = sum(m.status != "ok" for m in cand)
    note = f"; {dropped} candidate launch(es) failed" if dropped else ""
    if clock == "cpu":
        if all(m.cpu_samples_ms for m in (*b_ok, *c_ok)):
            b_ok = [replace(m, samples_ms=m.cpu_samples_ms) for m in b_ok]
            c_ok = [replace(m, samples_ms=m.cpu_samples_ms) for m in c_ok]
            note += "; CPU time"
        else:
            note += "; wall time (no CPU times recorded)"
    b_fig = [x for m in b_ok if (x := stats.launch_figure(m))]
    c_fig = [x for m in c_ok if (x := stats.launch_figure(m))]
    if len(b_fig) >= 2 and len(c_fig) >= 2:
        confidence = 1 - 0.05 / max(1, family)
        r, lo, hi = stats.launch_ratio_ci(b_fig, c_fig, confidence)  # type: ignore[misc]
        status = _status(r, (lo, hi), threshold, unclear=True)
        evidence = f"{len(b_fig)}+{len(c_fig)} launches"
        return Verdict(case, _gmean(b_fig), _gmean(c_fig), r, (lo, hi), status,
                       f"{(r - 1) * 100:+.1f}% ({confidence:.1%} CI {lo:.3f}-{hi:.3f} over launches, Welch t){note}{_heat(b_ok, c_ok)}"
                       f"{_differs(b_ok, c_ok)}",
                       evidence)
    verdict = judge(case, pooled(b_ok), pooled(c_ok), threshold)
    return replace(verdict, reason=verdict.reason + note, evidence=_weak(len(b_ok), len(c_ok)))


def _weak(nb: int, nc: int) -> str:
    return (f"weak: {nb}+{nc} launch(es), the interval comes from within a launch and misses "
            "launch-to-launch variation (run --launches 3 or more)")


def _status(r: float, ci: tuple[float, float] | None, threshold: float, unclear: bool = False) -> str:
    """A regression is a slowdown the interval puts wholly beyond the threshold: not only "slower" (an interval above
    1) but "slower by more than the threshold" (above 1 + threshold). Two runs taken at different times differ by a
    few percent of drift that no launch of either run can show (the machine's state moved between them); the
    threshold is the slowdown that counts, so a verdict must be sure of that much (docs/report.md).

    ``unclear`` (an interval over launches, which more launches narrow): a ratio past the threshold whose interval
    is not wholly past it is "unclear" rather than "same"."""
    if r > 1 + threshold and (ci is None or ci[0] > 1.0 + threshold):
        return "regression"
    if r < 1 - threshold and (ci is None or ci[1] < 1.0 - threshold):
        return "improved"
    if unclear and ci is not None and not 1 - threshold <= r <= 1 + threshold:
        return "unclear"
    return "same"


def _gmean(values: Sequence[float]) -> float:
    return float(np.exp(np.mean(np.log(values))))


def _groups(records: Sequence[Measurement], by_device: bool) -> dict[str, list[Measurement]]:
    """Each case's launches: one record per launch (of a launch recorded twice, the later record counts)."""
    out: dict[str, dict[tuple[str | None, int], Measurement]] = {}
    for m in records:
        out.setdefault(_key(m, by_device), {})[(m.device_id, m.launch or 1)] = m
    return {k: list(v.values()) for k, v in out.items()}


def compare(base: Sequence[Measurement], cand: Sequence[Measurement], threshold: float,
            clock: str = "wall") -> list[Verdict]:
    """One verdict per case of either run, from all its launches, on ``clock`` (judge_launches).

    Runs of several phones (a farm) pair each case on each phone: the key then names the device.
    """
    by_device = max(len({m.device_id for m in base}), len({m.device_id for m in cand})) > 1
    return _paired(_groups(base, by_device), _groups(cand, by_device),
                   lambda key, b, c, family: judge_launches(key, b, c, threshold, family, clock))


def _paired(b: Mapping[str, T], c: Mapping[str, T], judge: Callable[[str, T, T, int], Verdict]) -> list[Verdict]:
    """A verdict for every case of either side, baseline's order first: ``missing`` where one side lacks it, else
    ``judge(case, baseline's, candidate's, family)`` with family = the number of cases both sides have."""
    family = sum(k in c for k in b)
    out = []
    for key in [*b, *(k for k in c if k not in b)]:
        if key not in b or key not in c:
            where = "baseline" if key not in b else "candidate"
            out.append(Verdict(key, None, None, None, None, "missing", f"not in the {where} run"))
        else:
            out.append(judge(key, b[key], c[key], family))
    return out


def compare_columns(base: Columns, cand: Columns, threshold: float, clock: str = "wall") -> list[Verdict]:
    """compare() of two runs' records as columns (segbench.columns, with report.tables.record_rows derived): a case
    of one ok launch a side, same file, tool and backend, no heat, whose verdict ``certain`` settles on wall time, is
    decided from the columns; every other case (and every case on ``clock="cpu"``) from its records read whole, by
    judge_launches."""
    by_device = max(len(set(base["device"].tolist())), len(set(cand["device"].tolist()))) > 1

    def judge(key: str, bi: list[int], ci: list[int], family: int) -> Verdict:
        clear = _clear(key, base, bi, cand, ci, threshold) if clock == "wall" else None
        return clear or judge_launches(key, base.records(bi), cand.records(ci), threshold, family, clock)

    return _paired(_column_groups(base, by_device), _column_groups(cand, by_device), judge)


def _column_groups(cols: Columns, by_device: bool) -> dict[str, list[int]]:
    """_groups() as record indices."""
    out: dict[str, dict[tuple[str | None, int], int]] = {}
    names, runtimes, threads = cols["model"].tolist(), cols["runtime"].tolist(), cols.values("threads")
    modes, backends, devices = cols["power_mode"].tolist(), cols["backend"].tolist(), cols["device"].tolist()
    launches = cols.values("launch")
    for i in range(len(cols)):
        key = case_key(names[i], runtimes[i], threads[i], modes[i], backends[i], devices[i] if by_device else None)
        out.setdefault(key, {})[(devices[i], launches[i] or 1)] = i
    return {k: list(v.values()) for k, v in out.items()}


def _clear(case: str, base: Columns, bi: list[int], cand: Columns, ci: list[int], threshold: float) -> Verdict | None:
    """judge_launches' verdict on a plain one-launch-a-side case that ``certain`` settles, from columns; else None."""
    if len(bi) != 1 or len(ci) != 1:
        return None
    i, j = bi[0], ci[0]
    if base.value("status", i) != "ok" or cand.value("status", j) != "ok":
        return None
    if base.value("throttled", i) or cand.value("throttled", j):
        return None  # the reason says so: judged from the records
    same = all(base.value(k, i) == cand.value(k, j) for k in ("sha256", "tool", "tool_version"))
    if not same or (base.value("backend", i) or "cpu") != (cand.value("backend", j) or "cpu"):
        return None
    bm, cm = base.value("d_launch_figure", i), cand.value("d_launch_figure", j)
    bs, cs = base.sample_slice(i), cand.sample_slice(j)
    if not bm or cm is None or not bs.size or not cs.size:
        return None
    r = cm / bm
    clear = certain(r, bs, cs, threshold)
    if clear is None:
        return None
    return Verdict(case, bm, cm, r, None, clear[0], f"{(r - 1) * 100:+.1f}% ({clear[1]})", _weak(1, 1))


def gate(verdicts: Sequence[Verdict]) -> tuple[bool, str]:
    """Whether the candidate passes, and the line that says why: a regression, a failed case, or a case the baseline
    has and the candidate lacks trips it; an empty comparison is never green."""
    judged = [v for v in verdicts if v.status not in ("missing",)]
    lost = [v for v in verdicts if v.status == "missing" and "candidate" in v.reason]
    blocking = [v for v in verdicts if v.status in BLOCKING]
    weak = sum(bool(v.evidence.startswith("weak")) for v in judged)
    unclear = sum(v.status == "unclear" for v in verdicts)
    failed = sum(v.status == "failed" for v in verdicts)
    line = f"{sum(v.status == 'regression' for v in verdicts)} regression(s) of {len(verdicts)} case(s)"
    line += f", {failed} failed" if failed else ""
    line += f", {len(lost)} missing in the candidate" if lost else ""
    if unclear:
        line += f"; {unclear} unclear (past the threshold, not yet sure: more launches decide)"
    if weak:
        line += f"; {weak} verdict(s) weak (one launch on a side)"
    if not judged:
        return False, f"nothing to compare: no case was measured on both sides ({line})"
    return not blocking and not lost, line


def pooled(records: Sequence[Measurement]) -> Measurement:
    """Several ok records of one case (phones of one kind) as one: all their samples, or their median median."""
    ok = [m for m in records if m.status == "ok"]
    if len(ok) <= 1:
        return ok[-1] if ok else records[-1]
    if all(m.samples_ms for m in ok):
        return replace(ok[-1], samples_ms=tuple(x for m in ok for x in m.samples_ms or ()), **_pooled_heat(ok))
    # Tools that print only a summary: the median of the phones' medians stands for the kind; their means,
    # standard deviations and counts combine into those of all their runs together (for summary_ratio_ci).
    medians = [x for m in ok if (x := stats.launch_figure(m)) is not None]
    lat = replace(ok[-1].latency_ms, median=float(np.median(medians)))
    count = ok[-1].count
    if all(m.latency_ms.avg is not None and m.latency_ms.std is not None and m.count for m in ok):
        count = sum(m.count for m in ok)
        mean = sum(m.count * m.latency_ms.avg for m in ok) / count
        within = sum((m.count - 1) * m.latency_ms.std ** 2 for m in ok)
        between = sum(m.count * (m.latency_ms.avg - mean) ** 2 for m in ok)
        lat = replace(lat, avg=mean, std=math.sqrt((within + between) / (count - 1)))
    return replace(ok[-1], samples_ms=None, latency_ms=lat, count=count, **_pooled_heat(ok))


def _pooled_heat(ok: Sequence[Measurement]) -> dict[str, bool | None]:
    """Pooled records are throttled (at start) when any of them was."""
    return {"throttled": True if any(m.throttled for m in ok) else ok[-1].throttled,
            "throttled_at_start": True if any(m.throttled_at_start for m in ok) else ok[-1].throttled_at_start}


def against_baseline(base: Sequence[Measurement], cand: Sequence[Measurement], threshold: float,
                     clock: str = "wall") -> list[Verdict]:
    """Each phone's launches of a case (every phone of one kind) against all the baseline's launches of that case
    (its phones' and launches' records together)."""
    by_device = len({m.device_id for m in cand}) > 1
    cases: dict[str, list[Measurement]] = {}
    for m in base:
        cases.setdefault(_key(m), []).append(m)
    out = []
    groups = _groups(cand, by_device)
    family = sum(_key(records[0]) in cases for records in groups.values())
    for label, records in groups.items():
        key = _key(records[0])
        if key in cases:
            out.append(judge_launches(label, cases[key], records, threshold, family, clock))
        else:
            out.append(Verdict(label, None, None, None, None, "missing", "not in the baseline"))
    seen = {_key(m) for m in cand}
    out += [Verdict(k, None, None, None, None, "missing", "not in the candidate run") for k in cases if k not in seen]
    return out


def junit(verdicts: Sequence[Verdict], name: str) -> str:
    """JUnit XML: one testsuite, one testcase per case; a regression is a <failure>, a missing case <skipped>, an
    unclear one passes with its reason in <system-out>."""
    import xml.etree.ElementTree as ET

    failures = sum(v.status in BLOCKING for v in verdicts)
    suite = ET.Element("testsuite", name=name, tests=str(len(verdicts)), failures=str(failures),
                       errors="0", skipped=str(sum(v.status == "missing" for v in verdicts)))
    for v in verdicts:
        tc = ET.SubElement(suite, "testcase", classname="segbench.compare", name=v.case)
        if v.status in BLOCKING:
            ET.SubElement(tc, "failure", message=f"{v.status}: {v.reason}", type=v.status).text = v.reason
        elif v.status == "missing":
            ET.SubElement(tc, "skipped", message=v.reason)
        elif v.status == "unclear":
            ET.SubElement(tc, "system-out").text = f"unclear: {v.reason}; more launches decide"
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def render(verdicts: Sequence[Verdict]) -> str:
    from segbench.report.markdown import github_table

    def f(x: float | None) -> str:
        return "" if x is None else f"{x:.3f}"

    rows = [[v.case, f(v.baseline_ms), f(v.candidate_ms), f(v.ratio), v.status, v.reason, v.evidence]
            for v in verdicts]
    return github_table(["case", "baseline median (ms)", "candidate median (ms)", "ratio", "verdict", "why",
                         "evidence"], rows)
