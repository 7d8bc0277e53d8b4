# raw devices: host memory, disks, kernel log
import glob
from _common import attempt
for dev in ["/dev/mem", "/dev/kmem", "/dev/kmsg", "/dev/port"] + glob.glob("/dev/sd?") \
        + glob.glob("/dev/nvme?n?") + glob.glob("/dev/vd?"):
    attempt(f"open {dev}", lambda d=dev: open(d, "rb").read(16))
