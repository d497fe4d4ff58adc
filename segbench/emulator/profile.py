"""The emulated hardware: the sd855-mi9 profile (Xiaomi MI 9 on a Snapdragon 855) and its thermal model.

The facts are the values below: the properties of a MIUI build of the MI 9 (Android 9, its fingerprint
below); the clusters' frequency steps and the thermal zone names as the MI 9's device tree publishes them
(https://github.com/PixelExperience-Devices/device_xiaomi_cepheus: overlay/frameworks/base/core/res/res/xml/
power_profile.xml and configs/thermal/thermal_info_config.json). The thermal model is a deterministic
function of time and of when a benchmark tool was running, so tests can check it by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from segbench.errors import UsageError


@dataclass(frozen=True)
class Cluster:
    name: str
    cpus: tuple[int, ...]
    freqs_khz: tuple[int, ...]  # scaling_available_frequencies, ascending

    @property
    def max_khz(self) -> int:
        return self.freqs_khz[-1]

    @property
    def min_khz(self) -> int:
        return self.freqs_khz[0]


@dataclass(frozen=True)
class Zone:
    type: str  # /sys/class/thermal/thermal_zoneN/type
    idle_c: float  # where it settles when nothing runs
    busy_c: float  # where it heads while a benchmark runs
    cluster: str | None = None  # the CPU cluster whose frequency it caps


@dataclass(frozen=True)
class Profile:
    name: str
    props: tuple[tuple[str, str], ...]
    clusters: tuple[Cluster, ...]
    zones: tuple[Zone, ...]
    cpuinfo: str
    meminfo: str
    battery_level: int
    features: tuple[str, ...]
    # The accelerators' user-space libraries the phone ships (the emulated tools' delegates need them, and segbench
    # looks for them before running a GPU or NNAPI case): the Adreno OpenCL driver, Android's NNAPI runtime.
    vendor_libs: tuple[str, ...] = ()
    # The GPU the OpenCL driver reports.
    gpu: str | None = None

    def prop(self, key: str) -> str:
        return dict(self.props).get(key, "")

    @property
    def cpu_count(self) -> int:
        return sum(len(c.cpus) for c in self.clusters)


# Heating and cooling time constants (seconds): a phone heats in tens of seconds under load and
# cools more slowly; throttling starts at THROTTLE_C and removes THROTTLE_PER_C of the max
# frequency per degree above it, never below THROTTLE_FLOOR of it.
TAU_HEAT_S = 30.0
TAU_COOL_S = 60.0
THROTTLE_C = 70.0
THROTTLE_PER_C = 0.03
THROTTLE_FLOOR = 0.5


def approach(temp: float, target: float, seconds: float, tau: float) -> float:
    """Newton's law of heating/cooling: ``temp`` after ``seconds`` heading for ``target``."""
    return target + (temp - target) * math.exp(-seconds / tau)


def advance(temps: Sequence[float], zones: Sequence[Zone], t0: float, t1: float,
            busy: Sequence[tuple[float, float]], ambient_c: float | None = None) -> list[float]:
    """Zone temperatures at ``t1`` given those at ``t0`` and the (start, end) spans a tool ran.

    ``ambient_c`` (the throttle fault) replaces every CPU zone's idle and busy targets.
    """
    cuts = sorted({t0, t1, *(t for span in busy for t in span if t0 < t < t1)})
    out = list(temps)
    for a, b in zip(cuts, cuts[1:]):
        running = any(s <= a and e >= b for s, e in busy)
        for i, z in enumerate(zones):
            target = z.busy_c if running else z.idle_c
            if ambient_c is not None and z.cluster:
                target = max(target, ambient_c) if running else ambient_c
            out[i] = approach(out[i], target, b - a, TAU_HEAT_S if target > out[i] else TAU_COOL_S)
    return out


def capped_khz(cluster: Cluster, temp_c: float) -> int:
    """The highest available frequency the thermal governor allows at ``temp_c``."""
    if temp_c <= THROTTLE_C:
        return cluster.max_khz
    limit = cluster.max_khz * max(THROTTLE_FLOOR, 1.0 - THROTTLE_PER_C * (temp_c - THROTTLE_C))
    allowed = [f for f in cluster.freqs_khz if f <= limit]
    return allowed[-1] if allowed else cluster.min_khz


_SILVER = (300000, 403200, 499200, 576000, 672000, 768000, 844800, 940800, 1036800, 1113600, 1209600,
           1305600, 1382400, 1478400, 1555200, 1632000, 1708800, 1785600)
_GOLD = (710400, 825600, 940800, 1056000, 1171200, 1286400, 1401600, 1497600, 1612800, 1708800, 1804800,
         1920000, 2016000, 2131200, 2227200, 2323200, 2419200)
_PRIME = (825600, 940800, 1056000, 1171200, 1286400, 1401600, 1497600, 1612800, 1708800, 1804800, 1920000,
          2016000, 2131200, 2227200, 2323200, 2419200, 2534400, 2649600, 2745600, 2841600)


def _cpuinfo() -> str:
    # Kryo 485 Silver reports Cortex-A55's part 0x805, Gold/Prime Cortex-A76's 0x804 (Qualcomm 0x51).
    blocks = []
    for cpu in range(8):
        variant, part = ("0x7", "0x805") if cpu < 4 else ("0x1", "0x804")
        blocks.append(
            f"processor\t: {cpu}\nBogoMIPS\t: 38.40\n"
            "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm "
            "lrcpc dcpop asimddp\n"
            f"CPU implementer\t: 0x51\nCPU architecture: 8\nCPU variant\t: {variant}\nCPU part\t: {part}\n"
            "CPU revision\t: 14\n")
    # Paddle Lite picks its SM8150 table from this line (see the reference).
    return "\n".join(blocks) + "\nHardware\t: Qualcomm Technologies, Inc SM8150\n"


_MEMINFO = """MemTotal:        5738736 kB
MemFree:          412644 kB
MemAvailable:    2964408 kB
Buffers:           98372 kB
Cached:          2494048 kB
SwapCached:        21368 kB
SwapTotal:       2621436 kB
SwapFree:        2345980 kB
"""

SD855_MI9 = Profile(
    name="sd855-mi9",
    props=(
        ("dalvik.vm.isa.arm64.variant", "kryo300"),
        ("ro.board.platform", "msmnile"),
        ("ro.build.fingerprint", "Xiaomi/cepheus/cepheus:9/PKQ1.181121.001/9.6.27:user/release-keys"),
        ("ro.build.id", "PKQ1.181121.001"),
        ("ro.build.type", "user"),
        ("ro.build.version.release", "9"),
        ("ro.build.version.sdk", "28"),
        ("ro.hardware", "qcom"),
        # What Android's own emulator sets and no real phone does: the harness reads it as "emulated" (any
        # emulated device would be labelled so), so the emulator announces itself without being special-cased.
        ("ro.kernel.qemu", "1"),
        ("ro.product.board", "cepheus"),
        ("ro.product.brand", "Xiaomi"),
        ("ro.product.cpu.abi", "arm64-v8a"),
        ("ro.product.cpu.abilist", "arm64-v8a,armeabi-v7a,armeabi"),
        ("ro.product.device", "cepheus"),
        ("ro.product.manufacturer", "Xiaomi"),
        ("ro.product.model", "MI 9"),
        ("ro.product.name", "cepheus"),
        ("ro.product.vendor.brand", "Xiaomi"),
        ("ro.product.vendor.device", "cepheus"),
        ("ro.product.vendor.model", "MI 9"),
        ("ro.serialno", "emulated-cepheus"),
    ),
    clusters=(
        Cluster("silver", (0, 1, 2, 3), _SILVER),
        Cluster("gold", (4, 5, 6), _GOLD),
        Cluster("prime", (7,), _PRIME),
    ),
    zones=(
        *(Zone(f"cpu-0-{i}-usr", 35.0, 62.0, "silver") for i in range(4)),
        *(Zone(f"cpu-1-{i}-usr", 36.0, 88.0, "gold" if i < 3 else "prime") for i in range(4)),
        Zone("gpuss-0-usr", 34.0, 55.0),
        Zone("battery", 30.0, 38.0),
        Zone("quiet_therm", 32.0, 45.0),
    ),
    cpuinfo=_cpuinfo(),
    meminfo=_MEMINFO,
    battery_level=87,
    # What the phone's adbd advertises in its CNXN banner; compression and abb are not emulated.
    features=("shell_v2", "cmd", "stat_v2", "ls_v2", "fixed_push_mkdir", "sendrecv_v2"),
    vendor_libs=("/vendor/lib64/libOpenCL.so", "/system/lib64/libneuralnetworks.so"),
    gpu="Adreno (TM) 640",
)

PROFILES = {SD855_MI9.name: SD855_MI9}


def profile_named(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UsageError(f"unknown emulator profile {name!r}", hint=f"use {', '.join(PROFILES)}") from None
