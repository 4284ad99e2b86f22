"""A stand-in daemon: says it is up (then half a line), and stops on SIGTERM saying so."""
import signal
import sys
import time

name = sys.argv[1]


def stop(signum, frame):
    print(f" and done\nstand-in {name} stopping", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print(f"stand-in {name} up", flush=True)
sys.stdout.write("half a line")
sys.stdout.flush()
while True:
    time.sleep(1)
