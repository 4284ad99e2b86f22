"""Validation of certificates.k8s.io's CertificateSigningRequest (upstream's pkg/apis/certificates/validation)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from . import meta as _meta
from ...machinery import names
from ._util import (Errors, as_dict, as_dicts, duplicate, forbidden, go_quote, invalid, invalid_go, is_int,
                    not_supported, required, seq, text, too_long)


def _meta_create(obj: dict, namespaced: bool, name_fn=names.name_is_dns_subdomain) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, name_fn)


CSR_USAGES = ("any", "cert sign", "client auth", "code signing", "content commitment", "crl sign",
              "data encipherment", "decipher only", "digital signature", "email protection", "encipher only",
              "ipsec end system", "ipsec tunnel", "ipsec user", "key agreement", "key encipherment",
              "microsoft sgc", "netscape sgc", "ocsp signing", "s/mime", "server auth", "signing", "timestamping")
LEGACY_UNKNOWN_SIGNER = "kubernetes.io/legacy-unknown"
# Condition types whose only status may be True, and those only /approval may add.
_TRUE_ONLY_CONDITIONS = ("Approved", "Denied", "Failed")
_APPROVAL_CONDITIONS = ("Approved", "Denied")
_CONDITION_STATUSES = ("False", "True", "Unknown")
_PEM_BLOCK = re.compile(r"-----BEGIN ([^\n]*)-----\r?\n(.*?)\r?\n?-----END \1-----[ \t]*(?:\r?\n|$)", re.S)


_UNSUPPORTED = "x509: cannot verify signature: algorithm unimplemented"


def _csr_request_error(request: Any) -> str:
    """What upstream's validateCSR says of spec.request (base64 of PEM in JSON), or "" when it holds a PKCS#10
    request whose signature verifies: the first PEM block must be a CERTIFICATE REQUEST (certificates.ParseCSR),
    its DER must parse, and its signature must check with its own public key (CheckSignature)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
    try:
        data = base64.b64decode(text(request), validate=True).decode("latin-1")
    except (binascii.Error, ValueError):
        data = ""
    blocks = _pem_blocks(data)
    if not blocks or blocks[0][0] != "CERTIFICATE REQUEST":
        return "PEM block type must be CERTIFICATE REQUEST"
    try:
        csr = x509.load_der_x509_csr(blocks[0][2])
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm):
        # Go's wording comes from its asn1 decoder and depends on the bytes; this is the gist of it.
        return "x509: malformed certificate request"
    if isinstance(key, dsa.DSAPublicKey):
        return _UNSUPPORTED      # Go's CheckSignature verifies no DSA signature, good or bad
    try:
        if csr.is_signature_valid:
            return ""
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        pass
    if isinstance(key, rsa.RSAPublicKey):
        return "crypto/rsa: verification error"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "x509: ECDSA verification failure"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "x509: Ed25519 verification failure"
    return _UNSUPPORTED


def _pem_blocks(data: str) -> list[tuple[str, bool, bytes]]:
    """The PEM blocks of ``data`` as encoding/pem finds them, each (type, has headers, bytes); text around
    and between them, and blocks that do not decode, are passed over."""
    blocks = []
    for match in _PEM_BLOCK.finditer(data):
        lines = match.group(2).split("\n")
        headers = 0
        while headers < len(lines) and ":" in lines[headers]:
            headers += 1
        try:
            content = base64.b64decode(re.sub(r"\s", "", "".join(lines[headers:])), validate=True)
        except (binascii.Error, ValueError):
            continue
        blocks.append((match.group(1), headers > 0, content))
    return blocks


def _certificate_error(certificate: Any) -> str:
    """What upstream's validateCertificate says of status.certificate (base64 of PEM CERTIFICATE blocks),
    or "" when it is empty or such blocks."""
    from cryptography import x509
    try:
        data = base64.b64decode(text(certificate), validate=True).decode("latin-1")
    except (binascii.Error, ValueError):
        data = ""
    if not data:
        return ""
    blocks = _pem_blocks(data)
    for kind, has_headers, content in blocks:
        if kind != "CERTIFICATE":
            return f"only CERTIFICATE PEM blocks are allowed, found {go_quote(kind)}"
        if has_headers:
            return "no PEM block headers are permitted"
        if not content:
            return "found CERTIFICATE PEM block containing 0 certificates"
        try:
            x509.load_der_x509_certificate(content)
        except ValueError:
            return "x509: malformed certificate"
    return "" if blocks else "must contain at least one CERTIFICATE PEM block"


def _certificate(obj: Any) -> str:
    """status.certificate, "" when unset."""
    return text(as_dict(as_dict(obj).get("status")).get("certificate"))


def _conditions_of(obj: Any, kind: str) -> list:
    """findConditions: the status conditions of type ``kind``, in order."""
    return [c for c in as_dicts(as_dict(as_dict(obj).get("status")).get("conditions")) if c.get("type") == kind]


class _CSRTolerance:
    """What upstream's getValidationOptions lets an update through for compatibility: problems the stored CSR
    already has (or, for the certificate, an update that leaves it alone).  A create tolerates nothing."""

    def __init__(self, new: dict, old: Any):
        old = as_dict(old)
        old_spec = as_dict(old.get("spec"))
        types = [c.get("type") for c in as_dicts(as_dict(old.get("status")).get("conditions"))]
        usages = seq(old_spec.get("usages"))
        self.both_approved_and_denied = "Approved" in types and "Denied" in types
        self.legacy_signer = old_spec.get("signerName") == LEGACY_UNKNOWN_SIGNER
        self.duplicate_condition_types = len(set(types)) != len(types)
        self.empty_condition_type = any(not t for t in types)
        self.arbitrary_certificate = bool(old) and (
            _certificate(new) == _certificate(old) or bool(_certificate_error(_certificate(old))))
        self.unknown_usages = any(u not in CSR_USAGES for u in usages)
        self.duplicate_usages = len(set(map(str, usages))) != len(usages)


def _csr_usages(usages: list, tolerance: _CSRTolerance) -> Errors:
    errs: Errors = []
    if not tolerance.unknown_usages:
        errs += [not_supported(f"spec.usages[{i}]", u, CSR_USAGES) for i, u in enumerate(usages)
                 if u not in CSR_USAGES]
    if not tolerance.duplicate_usages:
        errs += [duplicate(f"spec.usages[{i}]", u) for i, u in enumerate(usages) if u in usages[:i]]
    return errs


def _csr_conditions(conditions: list, tolerance: _CSRTolerance) -> Errors:
    """validateConditions: each condition typed, with a status its type allows; Approved and Denied not both
    (unless the stored CSR has both); no type twice."""
    errs: Errors = []
    seen: set = set()
    for i, condition in enumerate(conditions):
        path, kind, status = f"status.conditions[{i}]", text(condition.get("type")), text(condition.get("status"))
        if not kind and not tolerance.empty_condition_type:
            errs.append(required(f"{path}.type", ""))
        allowed = ("True",) if kind in _TRUE_ONLY_CONDITIONS else _CONDITION_STATUSES
        if not status:
            errs.append(required(f"{path}.status", ""))
        elif status not in allowed:
            errs.append(not_supported(f"{path}.status", status, allowed))
        other = {"Approved": "Denied", "Denied": "Approved"}.get(kind)
        if other and other in seen and not tolerance.both_approved_and_denied:
            errs.append(invalid(f"{path}.type", kind, "Approved and Denied conditions are mutually exclusive"))
        if kind in seen and not tolerance.duplicate_condition_types:
            errs.append(duplicate(f"{path}.type", kind))
        seen.add(kind)
    return errs


def _csr_rules(obj: dict, tolerance: _CSRTolerance) -> Errors:
    """validateCertificateSigningRequest: the rules of a CSR's create and of every update."""
    errs = _meta_create(obj, False, names.any_name)
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    problem = _csr_request_error(spec.get("request"))
    if problem:
        errs.append(invalid_go("spec.request", "[]byte{...}", problem))
    usages = seq(spec.get("usages"))
    if not usages:
        errs.append(required("spec.usages", ""))
    errs += _csr_usages(usages, tolerance)
    signer = text(spec.get("signerName"))
    if signer == LEGACY_UNKNOWN_SIGNER and not tolerance.legacy_signer:
        errs.append(invalid("spec.signerName", signer, "the legacy signerName is not allowed via this API version"))
    else:
        errs += _signer_name(signer)
    expiration = spec.get("expirationSeconds")
    if is_int(expiration) and expiration < 600:
        errs.append(invalid("spec.expirationSeconds", expiration,
                            "may not specify a duration less than 600 seconds (10 minutes)"))
    errs += _csr_conditions(as_dicts(status.get("conditions")), tolerance)
    problem = "" if tolerance.arbitrary_certificate else _certificate_error(status.get("certificate"))
    if problem:
        errs.append(invalid("status.certificate", "<certificate data>", problem))
    return errs


def validate_csr(obj: dict, namespaced: bool) -> Errors:
    return _csr_rules(obj, _CSRTolerance(obj, None))


def validate_csr_update(new: dict, old: dict, namespaced: bool, subresource: str = "") -> Errors:
    """validateCertificateSigningRequestUpdate: the CSR's rules, then what the write may change: no update
    removes an Approved, Denied or Failed condition; only /approval adds Approved or Denied; only /status
    sets the certificate, and only where there was none.  (An update's strategy keeps the old conditions'
    instances, so upstream's "may not modify a condition" never comes to be said.)"""
    errs = _csr_rules(new, _CSRTolerance(new, old))
    for kind in _TRUE_ONLY_CONDITIONS:
        if len(_conditions_of(new, kind)) < len(_conditions_of(old, kind)):
            errs.append(forbidden("status.conditions", f"updates may not remove a condition of type {go_quote(kind)}"))
    if subresource != "approval":
        errs += [forbidden("status.conditions", f"updates may not add a condition of type {go_quote(kind)}")
                 for kind in _APPROVAL_CONDITIONS if len(_conditions_of(new, kind)) > len(_conditions_of(old, kind))]
    if _certificate(new) != _certificate(old):
        if subresource != "status":
            errs.append(forbidden("status.certificate", "updates may not set certificate content"))
        elif _certificate(old):
            errs.append(forbidden("status.certificate", "updates may not modify existing certificate content"))
    return errs + _meta.object_meta_update(new.get("metadata"), old.get("metadata"))


# A signerName is <domain>/<path>: the domain at most a DNS subdomain's length, the path room for a namespace (a DNS
# label), a dot and a resource name (a DNS subdomain), as signers named after an object need.
_SIGNER_DOMAIN_MAX = names.DNS1123_SUBDOMAIN_MAX
_SIGNER_NAME_MAX = _SIGNER_DOMAIN_MAX + 1 + names.DNS1123_SUBDOMAIN_MAX + 1 + names.DNS1123_LABEL_MAX


def _signer_name(signer: str) -> Errors:
    """ValidateSignerName: one slash; before it a domain of two or more DNS labels, after it DNS subdomains
    joined by dots; each part reports its first bad label only."""
    field = "spec.signerName"
    if not signer:
        return [required(field, "")]
    parts = signer.split("/")
    if len(parts) != 2:
        return [invalid(field, signer, "must be a fully qualified domain and path of the form "
                                       "'example.com/signer-name'")]
    domain, path = parts
    errs: Errors = []
    if len(domain.encode()) > _SIGNER_DOMAIN_MAX:
        errs.append(too_long(field, "", _SIGNER_DOMAIN_MAX))
    labels = domain.split(".")
    for label in labels:
        problems = names.is_dns1123_label(label)
        if problems:
            errs += [invalid(field, domain, f"validating label {go_quote(label)}: {p}") for p in problems]
            break
    if len(labels) < 2:
        errs.append(invalid(field, domain, "should be a domain with at least two segments separated by dots"))
    for label in path.split("."):
        problems = names.is_dns1123_subdomain(label)
        if problems:
            errs += [invalid(field, path, f"validating label {go_quote(label)}: {p}") for p in problems]
            break
    if len(signer.encode()) > _SIGNER_NAME_MAX:
        errs.append(too_long(field, "", _SIGNER_NAME_MAX))
    return errs
