"""A stand-in daemon that crashes at once."""
import sys

print("stand-in crasher starting, then crashing", flush=True)
sys.exit(3)
