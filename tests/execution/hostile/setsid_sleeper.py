# a new session + process group, detached from the run: must die with it
import subprocess, time
subprocess.Popen(["setsid", "sleep", "1000"], start_new_session=True)
subprocess.Popen(["nohup", "sh", "-c", "sleep 1000 & sleep 1000"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.3)
print("left detached sleepers behind", flush=True)
