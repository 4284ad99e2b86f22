"""certificatesigningrequest-signing-controller: issues certificates for approved requests to the kubernetes.io
signers (kube-apiserver-client, kube-apiserver-client-kubelet, kubelet-serving, legacy-unknown) with the CA of
--cluster-signing-cert-file/--cluster-signing-key-file, or each signer's own (--cluster-signing-kubelet-serving-,
-kubelet-client-, -kube-apiserver-client-, -legacy-unknown-cert-file/-key-file; the two ways exclude each other, and
with per-signer files a signer given none is not served), valid for min(--cluster-signing-duration,
spec.expirationSeconds), as upstream's pkg/controller/certificates/signer and its start function. A request a signer
refuses gets a Failed condition (SignerValidationFailure). Without any files the controller does nothing (upstream
skips it)."""

from __future__ import annotations

import base64
from typing import Dict, Optional

from twisted.logger import Logger

from ..client.cache import split_key
from ..client.resources import CERTIFICATE_SIGNING_REQUESTS
from ..client.rest import APIError
from ..machinery import meta
from ..pool import in_pool
from .context import ControllerContext, QueueController
from .csr import SIGNERS, CertificateAuthority, has_condition, is_approved, parse_request, signer_validation_error

log = Logger()
DEFAULT_DURATION = 365 * 24 * 3600.0


class CSRSigningController(QueueController):
    name = "certificatesigningrequest-signing-controller"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, authorities: Dict[str, CertificateAuthority]):
        super().__init__(ctx)
        self.authorities = authorities      # signer name -> the CA that signs for it
        self.duration = float(ctx.option("cluster-signing-duration", DEFAULT_DURATION))
        self.csrs = self.informer(CERTIFICATE_SIGNING_REQUESTS)
        self.csrs.add_event_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new))

    def _changed(self, csr: dict) -> None:
        if self._wants_signing(csr):
            self.enqueue(csr)

    def _wants_signing(self, csr: dict) -> bool:
        return (is_approved(csr) and not has_condition(csr, "Failed") and
                not (csr.get("status") or {}).get("certificate") and
                (csr.get("spec") or {}).get("signerName") in self.authorities)

    async def sync(self, key: str) -> None:
        _, name = split_key(key)
        csr = self.csrs.indexer.get(name)
        if csr is None or not self._wants_signing(csr):
            return
        spec = csr.get("spec") or {}
        try:
            request = parse_request(csr)
        except ValueError as e:
            raise ValueError(f'unable to parse csr "{name}": {e}') from None
        now = self.clock.seconds()
        status = dict(csr.get("status") or {})
        error = signer_validation_error(spec["signerName"], request, spec.get("usages") or [])
        if error is not None:
            stamp = meta.rfc3339(now)
            status["conditions"] = list(status.get("conditions") or []) + [
                {"type": "Failed", "status": "True", "reason": "SignerValidationFailure", "message": error,
                 "lastUpdateTime": stamp, "lastTransitionTime": stamp}]
        else:
            duration = self.duration
            if spec.get("expirationSeconds"):
                duration = min(duration, float(spec["expirationSeconds"]))
            # Signing is CPU work (an RSA CA key's above all): done in the thread pool, off the reactor thread.
            authority = self.authorities[spec["signerName"]]
            pem = await in_pool(self.clock, authority.sign, request, spec.get("usages") or [], duration, now)
            status["certificate"] = base64.b64encode(pem).decode()
        try:
            await self.client.update(CERTIFICATE_SIGNING_REQUESTS, {**csr, "status": status}, subresource="status")
        except APIError as e:
            if e.code not in (404, 409):
                raise


class Skipped:
    """What start returns when the controller cannot run (no signing files): nothing to run or stop."""

    skipped = True      # not started: the controller manager registers no health check for it

    async def run(self) -> None:
        return None

    def stop(self) -> None:
        return None


# Each signer's own flags (their prefix), upstream's per-signer CSRSigningConfigurations.
SIGNER_FLAGS = {"kubernetes.io/kubelet-serving": "cluster-signing-kubelet-serving",
                "kubernetes.io/kube-apiserver-client-kubelet": "cluster-signing-kubelet-client",
                "kubernetes.io/kube-apiserver-client": "cluster-signing-kube-apiserver-client",
                "kubernetes.io/legacy-unknown": "cluster-signing-legacy-unknown"}
BOTH_WAYS = "cannot specify default and per controller certs at the same time"


def signing_files(option) -> Dict[str, tuple]:
    """Signer name -> (cert file, key file) as ``option(flag)`` configures them; ValueError(BOTH_WAYS) when both
    the shared files and a signer's own are given, or when a signer is given only one of its two."""
    default = (option("cluster-signing-cert-file"), option("cluster-signing-key-file"))
    own = {signer: (option(f"{prefix}-cert-file"), option(f"{prefix}-key-file"))
           for signer, prefix in SIGNER_FLAGS.items()}
    for signer, (cert, key) in own.items():
        if bool(cert) != bool(key):
            prefix = SIGNER_FLAGS[signer]
            raise ValueError(f"--{prefix}-cert-file and --{prefix}-key-file go together")
    specific = any(cert or key for cert, key in own.values())
    if specific and all(default):
        raise ValueError(BOTH_WAYS)
    if specific:
        return {signer: files for signer, files in own.items() if any(files)}
    return {signer: default for signer in SIGNERS} if all(default) else {}


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def start_csr_signing_controller(ctx: ControllerContext) -> Optional[object]:
    files = signing_files(ctx.option)
    if not files:
        log.info("Skipping CSR signer controller because no csr cert/key was specified")
        return Skipped()
    authorities = {}
    for signer in SIGNERS:
        if signer not in files:
            log.info("Skipping CSR signer controller because specific files were specified for other signers and "
                     "not this one: {signer}", signer=signer)
            continue
        cert_file, key_file = files[signer]
        authorities[signer] = CertificateAuthority(_read(cert_file), _read(key_file))
    return CSRSigningController(ctx, authorities)
