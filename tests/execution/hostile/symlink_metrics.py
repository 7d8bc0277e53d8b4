# plants a symlink so that the host-side reader would follow it to a host file
import os
from _common import PARAMS
os.symlink(PARAMS["canary_file"], "metrics.json")
os.symlink(PARAMS["canary_file"], "figure.png")
print("planted symlinks")
