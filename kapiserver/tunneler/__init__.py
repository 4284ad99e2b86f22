"""Reaching nodes the apiserver cannot dial directly: SSH tunnels (twisted.conch)."""
