# 100 kill -9 restarts of churn.ph (0.7 s each, 50 ms snapshots) against one
# uninterrupted run of the same total length: pages mapped, file size, and
# the time from spawn to the kernel's "booted" line (boot time).
import json, os, signal, subprocess, sys, time
bin, prog, work = sys.argv[1], sys.argv[2], sys.argv[3]
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 100
def mapped(img):
    out = subprocess.run([bin, "snapshots", "--image", img, "--json"], capture_output=True, text=True).stdout
    return json.loads(out)["snapshots"][-1]["pages_mapped"]
def run(img, seconds, program=None):
    args = [bin, "run", "--image", img, "--verbose", "--snapshot-interval", "50ms"] + ([program] if program else [])
    start = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    boot = None
    while True:
        line = p.stderr.readline()
        if not line: break
        if "booted" in line or "installed" in line or "started" in line:
            boot = time.monotonic() - start
            break
    time.sleep(max(0, seconds - (time.monotonic() - start)))
    p.send_signal(signal.SIGKILL)
    p.wait()
    return boot
k = os.path.join(work, "k.img"); u = os.path.join(work, "u.img")
for f in (k, u):
    if os.path.exists(f): os.unlink(f)
boots, pages = [], []
run(k, 0.7, prog)
for i in range(runs - 1):
    boots.append(run(k, 0.7)); pages.append(mapped(k))
run(u, 0.7 * runs, prog)
um = mapped(u)
q = lambda xs, f: sorted(xs)[min(len(xs) - 1, int(f * len(xs)))]
print(json.dumps({"restarts": runs - 1, "boot_ms_first10_median": q(boots[:10], .5) * 1000,
    "boot_ms_last10_median": q(boots[-10:], .5) * 1000, "boot_ms_max": max(boots) * 1000,
    "pages_mapped_after_restarts": pages[-1], "pages_mapped_max": max(pages), "pages_mapped_uninterrupted": um,
    "ratio": pages[-1] / um, "file_bytes_restarts": os.path.getsize(k), "file_bytes_uninterrupted": os.path.getsize(u)}))
