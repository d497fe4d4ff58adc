"""`segbench compare`: pair the cases of two runs and decide regression vs noise from stored samples.

Rule (docs/report.md): for each case present in both runs, r = median(candidate) / median(baseline).
A 95% bootstrap interval of r (both sample sets resampled with replacement, 2000 times, fixed seed) is
the noise. A case regresses when r > 1 + threshold AND the interval's lower end is above 1, i.e. the
slowdown is both larger than the threshold and not explained by run-to-run noise. Improvements are the
mirror image. Records with only a tool's summary (no samples) get an interval from the summary when it gives
the mean, the standard deviation and the run count (benchmark_model does): the ratio of the means, normal on
the log scale; without those (benchmark_bin prints min/max/avg) they are judged on the threshold alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from segbench.model import Measurement

BOOTSTRAP = 2000


@dataclass(frozen=True)
class Verdict:
    case: str
    baseline_ms: float | None
    candidate_ms: float | None
    ratio: float | None
    ci: tuple[float, float] | None
    status: str  # regression | improved | same | missing | failed
    reason: str


def _median(m: Measurement) -> float | None:
    if m.samples_ms:
        return float(np.median(m.samples_ms))
    return m.latency_ms.median if m.latency_ms.median is not None else m.latency_ms.avg


def ratio_ci(base: Sequence[float], cand: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of median(cand) / median(base)."""
    rng = np.random.default_rng(seed)
    b = np.asarray(base, dtype=np.float64)
    c = np.asarray(cand, dtype=np.float64)
    bm = np.median(rng.choice(b, size=(BOOTSTRAP, b.size)), axis=1)
    cm = np.median(rng.choice(c, size=(BOOTSTRAP, c.size)), axis=1)
    lo, hi = np.percentile(cm / bm, [2.5, 97.5])
    return float(lo), float(hi)


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
    bm, cm = _median(base), _median(cand)
    if not bm or cm is None:
        return Verdict(case, bm, cm, None, None, "failed", "no latency figure")
    r = cm / bm
    if base.samples_ms and cand.samples_ms:
        ci = ratio_ci(base.samples_ms, cand.samples_ms)
        basis = f"95% CI {ci[0]:.3f}-{ci[1]:.3f}"
    elif (ci := summary_ratio_ci(base, cand)) is not None:
        basis = f"95% CI {ci[0]:.3f}-{ci[1]:.3f} of the mean, from the tools' avg/std"
    else:
        basis = "threshold only (no samples)"
    beyond_noise_up = ci is None or ci[0] > 1.0
    beyond_noise_down = ci is None or ci[1] < 1.0
    if r > 1 + threshold and beyond_noise_up:
        status = "regression"
    elif r < 1 - threshold and beyond_noise_down:
        status = "improved"
    else:
        status = "same"
    return Verdict(case, bm, cm, r, ci, status, f"{(r - 1) * 100:+.1f}% ({basis}){_heat(base, cand)}")


def _heat(base: Measurement, cand: Measurement) -> str:
    """'; candidate throttled (at start)': a slowdown that heat may explain says so."""
    said = [f"{which} throttled{' (at start)' if m.throttled_at_start else ''}"
            for which, m in (("baseline", base), ("candidate", cand)) if m.throttled]
    return f"; {', '.join(said)}" if said else ""


def _key(m: Measurement, by_device: bool = False) -> str:
    case = f"{m.model.name} {m.runtime} t{m.threads} {m.power_mode}"
    return f"{case} @{m.device_id}" if by_device else case


def compare(base: Sequence[Measurement], cand: Sequence[Measurement], threshold: float) -> list[Verdict]:
    """One verdict per case of either run (the latest record of a case counts).

    Runs of several phones (a farm) pair each case on each phone: the key then names the device.
    """
    by_device = max(len({m.device_id for m in base}), len({m.device_id for m in cand})) > 1
    b = {_key(m, by_device): m for m in base}
    c = {_key(m, by_device): m for m in cand}
    out = []
    for key in [*b, *(k for k in c if k not in b)]:
        if key not in b or key not in c:
            where = "baseline" if key not in b else "candidate"
            out.append(Verdict(key, None, None, None, None, "missing", f"not in the {where} run"))
        else:
            out.append(judge(key, b[key], c[key], threshold))
    return out


def pooled(records: Sequence[Measurement]) -> Measurement:
    """Several ok records of one case (phones of one kind) as one: all their samples, or their median median."""
    ok = [m for m in records if m.status == "ok"]
    if len(ok) <= 1:
        return ok[-1] if ok else records[-1]
    if all(m.samples_ms for m in ok):
        return replace(ok[-1], samples_ms=tuple(x for m in ok for x in m.samples_ms or ()), **_pooled_heat(ok))
    # Tools that print only a summary: the median of the phones' medians stands for the kind; their means,
    # standard deviations and counts combine into those of all their runs together (for summary_ratio_ci).
    medians = [x for m in ok if (x := _median(m)) is not None]
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


def against_baseline(base: Sequence[Measurement], cand: Sequence[Measurement], threshold: float) -> list[Verdict]:
    """Each candidate record (every phone of one kind) against the baseline's records of that case, pooled."""
    by_device = len({m.device_id for m in cand}) > 1
    cases: dict[str, list[Measurement]] = {}
    for m in base:
        cases.setdefault(_key(m), []).append(m)
    out = []
    for m in cand:
        label = _key(m, by_device)
        if _key(m) in cases:
            out.append(judge(label, pooled(cases[_key(m)]), m, threshold))
        else:
            out.append(Verdict(label, None, None, None, None, "missing", "not in the baseline"))
    seen = {_key(m) for m in cand}
    out += [Verdict(k, None, None, None, None, "missing", "not in the candidate run") for k in cases if k not in seen]
    return out


def junit(verdicts: Sequence[Verdict], name: str) -> str:
    """JUnit XML: one testsuite, one testcase per case; a regression is a <failure>, a missing case <skipped>."""
    import xml.etree.ElementTree as ET

    failures = sum(v.status in ("regression", "failed") for v in verdicts)
    suite = ET.Element("testsuite", name=name, tests=str(len(verdicts)), failures=str(failures),
                       errors="0", skipped=str(sum(v.status == "missing" for v in verdicts)))
    for v in verdicts:
        tc = ET.SubElement(suite, "testcase", classname="segbench.compare", name=v.case)
        if v.status in ("regression", "failed"):
            ET.SubElement(tc, "failure", message=f"{v.status}: {v.reason}", type=v.status).text = v.reason
        elif v.status == "missing":
            ET.SubElement(tc, "skipped", message=v.reason)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def render(verdicts: Sequence[Verdict]) -> str:
    from tabulate import tabulate

    def f(x: float | None) -> str:
        return "" if x is None else f"{x:.3f}"

    rows = [[v.case, f(v.baseline_ms), f(v.candidate_ms), f(v.ratio), v.status, v.reason] for v in verdicts]
    return tabulate(rows, headers=["case", "baseline median (ms)", "candidate median (ms)", "ratio", "verdict", "why"],
                    tablefmt="github", disable_numparse=True)
