"""CertificateSigningRequests as the certificates controllers read them: their conditions, the x509 request
inside, the usages each kubernetes.io signer accepts (upstream's pkg/apis/certificates helpers and the signer's
checks, with their error texts), and signing with a CA certificate and key (the `cryptography` package)."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
from typing import List, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"
SIGNERS = (KUBE_APISERVER_CLIENT, KUBE_APISERVER_CLIENT_KUBELET, KUBELET_SERVING, LEGACY_UNKNOWN)

KUBELET_CLIENT_USAGES = frozenset({"digital signature", "key encipherment", "client auth"})
KUBELET_CLIENT_USAGES_NO_RSA = frozenset({"digital signature", "client auth"})
KUBELET_SERVING_USAGES = frozenset({"digital signature", "key encipherment", "server auth"})
KUBELET_SERVING_USAGES_NO_RSA = frozenset({"digital signature", "server auth"})

KEY_USAGES = {"signing": "digital_signature", "digital signature": "digital_signature",
              "content commitment": "content_commitment", "key encipherment": "key_encipherment",
              "key agreement": "key_agreement", "data encipherment": "data_encipherment",
              "cert sign": "key_cert_sign", "crl sign": "crl_sign", "encipher only": "encipher_only",
              "decipher only": "decipher_only"}
EXT_KEY_USAGES = {"any": x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
                  "server auth": ExtendedKeyUsageOID.SERVER_AUTH, "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
                  "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
                  "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
                  "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
                  "ipsec end system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
                  "ipsec tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
                  "ipsec user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
                  "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
                  "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
                  "microsoft sgc": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
                  "netscape sgc": x509.ObjectIdentifier("2.16.840.1.113730.4.1")}
BACKDATE = 300.0        # upstream's signing policy backdates NotBefore 5 minutes...
SHORT = 8 * 3600.0      # ...and a certificate shorter than 8 h runs its full duration from now


def has_condition(csr: dict, kind: str) -> Optional[dict]:
    for c in (csr.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind and c.get("status", "True") == "True":
            return c
    return None


def is_approved(csr: dict) -> bool:
    return has_condition(csr, "Approved") is not None and has_condition(csr, "Denied") is None


def parse_request(csr: dict) -> x509.CertificateSigningRequest:
    """The x509 request of spec.request (base64 of PEM in JSON); ValueError when it is not one."""
    pem = base64.b64decode((csr.get("spec") or {}).get("request") or "")
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    return x509.load_pem_x509_csr(pem)


def _names(request: x509.CertificateSigningRequest):
    try:
        san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], [], [], []
    return (san.get_values_for_type(x509.DNSName), san.get_values_for_type(x509.RFC822Name),
            san.get_values_for_type(x509.IPAddress), san.get_values_for_type(x509.UniformResourceIdentifier))


def subject(request: x509.CertificateSigningRequest, oid) -> List[str]:
    return [str(a.value) for a in request.subject.get_attributes_for_oid(oid)]


def common_name(request: x509.CertificateSigningRequest) -> str:
    """The subject's common name as Go reads it: the last CN attribute, "" without one."""
    return "".join(subject(request, NameOID.COMMON_NAME)[-1:])


def _go_set(usages) -> str:
    return "[" + " ".join(sorted(usages)) + "]"


def validate_kubelet_client(request: x509.CertificateSigningRequest, usages) -> Optional[str]:
    """Upstream's ValidateKubeletClientCSR: the error text, or None."""
    dns, emails, ips, uris = _names(request)
    if subject(request, NameOID.ORGANIZATION_NAME) != ["system:nodes"]:
        return "subject organization is not system:nodes"
    if dns:
        return "DNS subjectAltNames are not allowed"
    if emails:
        return "Email subjectAltNames are not allowed"
    if ips:
        return "IP subjectAltNames are not allowed"
    if uris:
        return "URI subjectAltNames are not allowed"
    if not common_name(request).startswith("system:node:"):
        return "subject common name does not begin with system:node:"
    if set(usages) not in (KUBELET_CLIENT_USAGES, KUBELET_CLIENT_USAGES_NO_RSA):
        return f"usages did not match {_go_set(KUBELET_CLIENT_USAGES)}"
    return None


def validate_kubelet_serving(request: x509.CertificateSigningRequest, usages) -> Optional[str]:
    """Upstream's ValidateKubeletServingCSR: the error text, or None."""
    dns, emails, ips, uris = _names(request)
    if subject(request, NameOID.ORGANIZATION_NAME) != ["system:nodes"]:
        return "subject organization is not system:nodes"
    if not dns and not ips:
        return "DNS or IP subjectAltName is required"
    if emails:
        return "Email subjectAltNames are not allowed"
    if uris:
        return "URI subjectAltNames are not allowed"
    if set(usages) not in (KUBELET_SERVING_USAGES, KUBELET_SERVING_USAGES_NO_RSA):
        return f"usages did not match {_go_set(KUBELET_SERVING_USAGES)}"
    if not common_name(request).startswith("system:node:"):
        return "subject common name does not begin with system:node:"
    return None


def validate_kube_apiserver_client(usages) -> Optional[str]:
    has_client_auth = False
    for usage in usages:
        if usage in ("digital signature", "key encipherment"):
            continue
        if usage == "client auth":
            has_client_auth = True
            continue
        return f"invalid usage for client certificate: {usage}"
    if not has_client_auth:
        return "missing required usage for client certificate: client auth"
    return None


def signer_validation_error(signer: str, request: x509.CertificateSigningRequest, usages) -> Optional[str]:
    """Why the kubernetes.io signer ``signer`` refuses the request (a Failed SignerValidationFailure), or None."""
    if signer == KUBE_APISERVER_CLIENT:
        return validate_kube_apiserver_client(usages)
    if signer == KUBE_APISERVER_CLIENT_KUBELET:
        return validate_kubelet_client(request, usages)
    if signer == KUBELET_SERVING:
        return validate_kubelet_serving(request, usages)
    return None


class CertificateAuthority:
    """A CA certificate and key; ``sign`` issues a certificate for a request, as upstream's authority package."""

    def __init__(self, cert_pem: bytes, key_pem: bytes):
        self.certificate = x509.load_pem_x509_certificate(cert_pem)
        self.key = serialization.load_pem_private_key(key_pem, password=None)

    def sign(self, request: x509.CertificateSigningRequest, usages, duration: float, now: float) -> bytes:
        """The PEM certificate for ``request``, laid out as Go's x509.CreateCertificate lays out upstream's
        template: the subject rebuilt from the fields Go reads of it, then KeyUsage, ExtendedKeyUsage (in Go's
        order), BasicConstraints, AuthorityKeyIdentifier and the request's SANs; a 128-bit serial; the hash the
        CA key's type asks for."""
        ca_not_after = self.certificate.not_valid_after_utc.timestamp()
        if now >= ca_not_after:
            raise ValueError(f"refusing to sign a certificate that expired in the past: NotAfter="
                             f"{self.certificate.not_valid_after_utc}")
        not_before = now - BACKDATE
        not_after = now + duration if duration < SHORT else not_before + duration
        not_after = min(not_after, ca_not_after)
        utc = datetime.timezone.utc
        subject = go_subject(request.subject)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.certificate.subject)
                   .public_key(request.public_key()).serial_number(int.from_bytes(os.urandom(16), "big") or 1)
                   .not_valid_before(datetime.datetime.fromtimestamp(not_before, utc))
                   .not_valid_after(datetime.datetime.fromtimestamp(not_after, utc)))
        flags = {name: False for name in set(KEY_USAGES.values())}
        for usage in usages:
            if usage in KEY_USAGES:
                flags[KEY_USAGES[usage]] = True
        if any(flags.values()):
            builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
        wanted = {EXT_KEY_USAGES[u] for u in usages if u in EXT_KEY_USAGES}
        extended = [oid for oid in dict.fromkeys(EXT_KEY_USAGES.values()) if oid in wanted]
        if extended:
            builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        try:
            ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                                            critical=False)
        except x509.ExtensionNotFound:
            pass
        dns, emails, ips, uris = _names(request)
        names = ([x509.DNSName(n) for n in dns] + [x509.RFC822Name(n) for n in emails] +
                 [x509.IPAddress(ipaddress.ip_address(str(n))) for n in ips] +
                 [x509.UniformResourceIdentifier(n) for n in uris])
        if names:
            # Go marks the names critical when they are all the certificate says of its subject (RFC 5280).
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=len(subject) == 0)
        return builder.sign(self.key, _signature_hash(self.key)).public_bytes(serialization.Encoding.PEM)


def _signature_hash(key):
    """The digest Go's x509 signs with for a CA key: SHA-256, but SHA-384 and SHA-512 for P-384 and P-521 keys,
    none for Ed25519 and Ed448."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp384r1": hashes.SHA384(), "secp521r1": hashes.SHA512()}.get(key.curve.name, hashes.SHA256())
    return hashes.SHA256()


# The subject fields Go's pkix.Name keeps of a parsed request, in the order its ToRDNSequence writes them back;
# each field's values share one RDN, and the common name and serial number keep their last value only.
_GO_NAME_ORDER = ((NameOID.COUNTRY_NAME, True), (NameOID.STATE_OR_PROVINCE_NAME, True),
                  (NameOID.LOCALITY_NAME, True), (NameOID.STREET_ADDRESS, True), (NameOID.POSTAL_CODE, True),
                  (NameOID.ORGANIZATION_NAME, True), (NameOID.ORGANIZATIONAL_UNIT_NAME, True),
                  (NameOID.COMMON_NAME, False), (NameOID.SERIAL_NUMBER, False))
_PRINTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


def _go_string(oid, value: str) -> x509.NameAttribute:
    # encoding/asn1 writes a PrintableString when every character allows it, else a UTF8String; cryptography
    # would choose by attribute type, so the type is given (its only way is the underscored argument).
    kind = _ASN1Type.PrintableString if value and set(value) <= _PRINTABLE else _ASN1Type.UTF8String
    return x509.NameAttribute(oid, value, _type=kind)


def go_subject(subject: x509.Name) -> x509.Name:
    """``subject`` as upstream's signer writes it into the certificate (x509 Name → pkix.Name → RDNSequence):
    other attribute types (emailAddress, DC, UID...) are dropped."""
    rdns = []
    for oid, many in _GO_NAME_ORDER:
        values = [str(a.value) for a in subject.get_attributes_for_oid(oid)]
        if not values:
            continue
        values = values if many else values[-1:]
        try:
            rdns.append(x509.RelativeDistinguishedName([_go_string(oid, v) for v in values]))
        except ValueError:      # the same value twice in one RDN, which cryptography refuses: one RDN each
            rdns += [x509.RelativeDistinguishedName([_go_string(oid, v)]) for v in values]
    return x509.Name(rdns)


def certificate_not_after(csr: dict) -> Optional[float]:
    """When status.certificate (base64 of PEM) expires, or None without a parseable one."""
    data = (csr.get("status") or {}).get("certificate")
    if not data:
        return None
    try:
        return x509.load_pem_x509_certificate(base64.b64decode(data)).not_valid_after_utc.timestamp()
    except ValueError:
        return None
