"""SSH tunnels to nodes (--ssh-user, --ssh-keyfile): one SSH connection per node address, kept
open and re-established when it drops; each dial is a direct-tcpip channel through it (what
`ssh -L` does), so the kubelet and pod ports are reached as the node itself reaches them."""

from __future__ import annotations

import time
from typing import Dict, Optional

from twisted.conch.ssh import channel, connection, forwarding, keys, transport, userauth
from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.logger import Logger

from ..machinery import errors

log = Logger()


class _Connection(connection.SSHConnection):
    def __init__(self, ready: defer.Deferred, lost):
        super().__init__()
        self._ready = ready
        self._lost = lost

    def serviceStarted(self):
        super().serviceStarted()
        self._ready.callback(self)

    def serviceStopped(self):
        super().serviceStopped()
        self._lost()


class _Auth(userauth.SSHUserAuthClient):
    def __init__(self, user: bytes, instance, key: keys.Key):
        super().__init__(user, instance)
        self.key = key

    def getPublicKey(self):
        if self.lastPublicKey:
            return None  # one key only: no second offer after a refusal
        public = self.key.public()
        return _RSASHA256(public) if public.type() == "RSA" else public

    def getPrivateKey(self):
        return defer.succeed(self.key)

    def signData(self, public_key, data):
        # RSA keys sign with SHA-256 (RFC 8332): OpenSSH 8.8 and later refuse SHA-1 "ssh-rsa" signatures.
        kind = b"rsa-sha2-256" if self.key.type() == "RSA" else None
        return defer.succeed(self.key.sign(data, signatureType=kind))


class _RSASHA256(keys.Key):
    """An RSA public key offered under the rsa-sha2-256 algorithm name (its blob stays ssh-rsa)."""

    def __init__(self, key: keys.Key):
        super().__init__(key._keyObject)

    def sshType(self):
        return b"rsa-sha2-256"

    def getPassword(self, prompt=None):
        return None


class _Transport(transport.SSHClientTransport):
    def __init__(self, user: bytes, key: keys.Key, ready: defer.Deferred, lost):
        self.user, self.key, self.ready, self.lost = user, key, ready, lost

    def verifyHostKey(self, host_key, fingerprint):
        # Nodes' host keys are not distributed to the apiserver (upstream's tunneler does not check
        # them either); the fingerprint is logged so an operator can compare.
        log.info("ssh tunnel: host key {fingerprint}", fingerprint=fingerprint)
        return defer.succeed(True)

    def connectionSecure(self):
        self.requestService(_Auth(self.user, _Connection(self.ready, self.lost), self.key))

    def connectionLost(self, reason):
        super().connectionLost(reason)
        if not self.ready.called:
            self.ready.errback(reason)
        self.lost()


class _ChannelTransport:
    """What the tunnelled protocol sees as its transport."""

    def __init__(self, chan: "_DirectTCPIP"):
        self.chan = chan
        self.disconnecting = False

    def write(self, data):
        self.chan.write(data)

    def writeSequence(self, seq):
        self.chan.write(b"".join(seq))

    def loseConnection(self):
        if not self.disconnecting:
            self.disconnecting = True
            self.chan.loseConnection()

    abortConnection = loseConnection

    def getPeer(self):
        return self.chan.conn.transport.transport.getPeer()

    def getHost(self):
        return self.chan.conn.transport.transport.getHost()

    def registerProducer(self, producer, streaming):
        pass

    def unregisterProducer(self):
        pass

    def pauseProducing(self):
        pass

    def resumeProducing(self):
        pass

    def stopProducing(self):
        self.loseConnection()


class _DirectTCPIP(channel.SSHChannel):
    name = b"direct-tcpip"

    def __init__(self, target, protocol_, opened: defer.Deferred, **kw):
        super().__init__(**kw)
        self.target = target
        self.protocol = protocol_
        self.opened = opened

    def channelOpen(self, specific_data):
        self.protocol.makeConnection(_ChannelTransport(self))
        self.opened.callback(self.protocol)

    def openFailed(self, reason):
        self.opened.errback(reason)

    def dataReceived(self, data):
        self.protocol.dataReceived(data)

    def eofReceived(self):
        self.loseConnection()

    def closed(self):
        self.protocol.connectionLost(None)


class SSHTunneler:
    """`dial(host, port, protocol)` through an SSH tunnel to `host`; `healthy()` for /healthz."""

    def __init__(self, reactor, user: str, keyfile: str, ssh_port: int = 22, timeout: float = 10.0):
        self.reactor = reactor
        self.user = user.encode()
        self.key = keys.Key.fromFile(keyfile)
        self.ssh_port = ssh_port
        self.timeout = timeout
        self.connections: Dict[str, defer.Deferred] = {}
        self.last_success: Optional[float] = None

    def _connection(self, host: str) -> defer.Deferred:
        existing = self.connections.get(host)
        if existing is not None:
            return existing
        ready = defer.Deferred()
        result = defer.Deferred()

        def lost():
            # The next dial opens a new tunnel.
            if self.connections.get(host) is result:
                del self.connections[host]

        def made(conn):
            self.last_success = time.time()
            result.callback(conn)
            return conn

        def failed(failure):
            lost()
            result.errback(failure)
        ready.addCallbacks(made, failed)
        self.connections[host] = result
        endpoint = TCP4ClientEndpoint(self.reactor, host, self.ssh_port, timeout=self.timeout)
        d = connectProtocol(endpoint, _Transport(self.user, self.key, ready, lost))
        d.addErrback(lambda f: ready.called or ready.errback(f))
        return result

    async def dial(self, host: str, port: int, protocol_):
        # Each caller gets its own view of the shared connection's Deferred.
        shared = self._connection(host)
        waiter = defer.Deferred()
        shared.addBoth(lambda r: (waiter.callback(r) if not isinstance(r, defer.Failure) else waiter.errback(r), r)[1])
        try:
            conn = await waiter
        except Exception as e:
            raise errors.internal_error(f"error dialing backend: ssh tunnel to {host}:{self.ssh_port}: {e}") \
                from None
        opened = defer.Deferred()
        chan = _DirectTCPIP((host, port), protocol_, opened, conn=conn)
        conn.openChannel(chan, forwarding.packOpen_direct_tcpip((host, port), ("127.0.0.1", 0)))
        try:
            return await opened
        except Exception as e:
            raise errors.internal_error(f"error dialing backend: tunnel to {host}:{port}: {e}") from None

    def healthy(self) -> bool:
        """True until a tunnel has been wanted and none could be opened (upstream's ssh-tunnel check)."""
        return not self.connections or self.last_success is not None
