"""Device profiling: size, latency, memory and energy, each figure labelled with its method.

Measured where the hardware tells (RAPL on the CPU, NVML on NVIDIA GPUs),
estimated where it cannot (operation counts x a cited energy table; rated power
x measured time), projected to microcontrollers (Cortex-M4F, Cortex-M33).
"""

from cardioliquid.device.profile import profile_model
from cardioliquid.device.report import ProfileReport

__all__ = ["ProfileReport", "profile_model"]
