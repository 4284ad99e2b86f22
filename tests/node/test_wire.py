"""The node's channel WebSockets (exec, attach, port-forward) send a stream as the kubelet does: a read of it at
most 32 KiB a message, so a client holding messages to 64 KiB (httpx-ws, kr8s' port-forward) takes them all."""

from __future__ import annotations

from kapiserver.node.wire import CHANNEL_CHUNK, ChannelExec, send_channel


class Socket:
    def __init__(self):
        self.sent = []

    def send(self, payload: bytes) -> None:
        self.sent.append(payload)


def test_a_big_read_goes_out_in_messages_of_at_most_32_kib():
    ws = Socket()
    data = bytes(range(256)) * 400      # 100 KiB, as one 64 KiB read and more
    send_channel(ws, 4, data)
    assert [len(m) for m in ws.sent] == [CHANNEL_CHUNK + 1] * 3 + [len(data) - 3 * CHANNEL_CHUNK + 1]
    assert {m[0] for m in ws.sent} == {4} and b"".join(m[1:] for m in ws.sent) == data
    ws.sent.clear()
    send_channel(ws, 0, b"small")
    assert ws.sent == [b"\x00small"]


def test_exec_output_is_sent_in_those_messages():
    session = ChannelExec(lambda _: None)
    session.ws = Socket()
    session.write("stdout", b"x" * (CHANNEL_CHUNK + 10))
    assert [len(m) for m in session.ws.sent] == [CHANNEL_CHUNK + 1, 11]
