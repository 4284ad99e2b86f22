"""
Assembling the secure side from the configuration: serving certificates (generated
when none are given), the admin kubeconfig, authenticators, authorizers and the
admission chain.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Optional

from twisted.logger import Logger

from . import authn, authz, certs, jwt
from .filters import Security
from .rbac import RBACAuthorizer

log = Logger()
SERVICE_ACCOUNT_KEY = "sa.key"


def service_ip(config) -> str:
    """The kubernetes Service's cluster IP: the first address of --service-cluster-ip-range."""
    return str(next(iter(config.service_cluster_ip_range.hosts()), config.service_cluster_ip_range[0]))


def serving_files(config) -> tuple[str, str, Optional[Path], Optional[Path]]:
    """(cert, key, generated CA cert, generated CA key); the CA paths are None with --tls-cert-file."""
    sec = config.security
    if sec.tls_cert_file:
        return sec.tls_cert_file, sec.tls_private_key_file, None, None
    hosts = certs.serving_hosts(str(config.advertise_address or "127.0.0.1"), service_ip(config))
    ca_cert, ca_key, cert, key = certs.ensure_self_signed(sec.cert_dir, hosts)
    return str(cert), str(key), ca_cert, ca_key


def _signing_key(config, tls_key: str):
    sec = config.security
    path = sec.service_account_signing_key_file
    if not path:
        if sec.tls_cert_file:
            path = tls_key
        else:
            # A key of its own, so rotating the serving certificate does not invalidate tokens.
            path = str(Path(sec.cert_dir) / SERVICE_ACCOUNT_KEY)
            if not Path(path).exists():
                certs._write(Path(path), certs.key_pem(certs.new_key()), private=True)
    return certs.load_key(path), path


def build_security(config, registry, tls_key: str, client_ca: Optional[Path]) -> Security:
    sec = config.security
    roots = certs.load_certificates(sec.client_ca_file) if sec.client_ca_file else \
        (certs.load_certificates(str(client_ca)) if client_ca else [])
    signing_key, signing_path = _signing_key(config, tls_key)
    key_files = list(sec.service_account_key_files) or [signing_path]
    issuers = list(sec.service_account_issuers) or [sec.issuer()]
    service_accounts = authn.ServiceAccountTokens(
        public_keys=jwt.load_public_keys(key_files), signing_key=signing_key,
        issuers=issuers + [jwt.LEGACY_ISSUER], audiences=list(sec.api_audiences) or issuers,
        lookup=sec.service_account_lookup, max_expiration=int(sec.service_account_max_token_expiration))
    token_authenticators = []
    if sec.authentication_token_webhook_config_file:
        from .webhook import TokenWebhook
        token_authenticators.append(TokenWebhook(sec.authentication_token_webhook_config_file,
                                                 sec.authentication_token_webhook_cache_ttl).authenticate)
    if sec.oidc_issuer_url:
        from .oidc import OIDCAuthenticator
        token_authenticators.insert(0, OIDCAuthenticator(
            sec.oidc_issuer_url, sec.oidc_client_id, sec.oidc_ca_file, sec.oidc_username_claim,
            sec.oidc_username_prefix, sec.oidc_groups_claim, sec.oidc_groups_prefix,
            dict(sec.oidc_required_claims)).authenticate)
    password_authenticators = []
    if sec.experimental_keystone_url:
        from .keystone import KeystoneAuthenticator
        password_authenticators.append(KeystoneAuthenticator(sec.experimental_keystone_url,
                                                             sec.experimental_keystone_ca_file).authenticate)
    request_headers = None
    if sec.requestheader_client_ca_file:
        request_headers = authn.RequestHeaders(
            certs.load_certificates(sec.requestheader_client_ca_file), sec.requestheader_allowed_names,
            sec.requestheader_username_headers, sec.requestheader_group_headers,
            sec.requestheader_extra_headers_prefix)
    authenticator = authn.Authenticator(
        request_headers=request_headers,
        client_ca=roots,
        tokens=authn.read_user_csv(sec.token_auth_file, "token") if sec.token_auth_file else None,
        passwords=authn.read_user_csv(sec.basic_auth_file, "password") if sec.basic_auth_file else None,
        service_accounts=service_accounts, anonymous=sec.anonymous_auth, registry=registry,
        token_authenticators=token_authenticators, password_authenticators=password_authenticators)
    rbac = RBACAuthorizer(registry)
    webhook = None
    if "Webhook" in sec.authorization_modes:
        from .webhook import AuthorizationWebhook
        webhook = AuthorizationWebhook(sec.authorization_webhook_config_file)
    node = None
    if "Node" in sec.authorization_modes:
        from .node import NodeAuthorizer
        node = NodeAuthorizer(registry)
    authorizer = authz.build(list(sec.authorization_modes), rbac=rbac, policy_file=sec.authorization_policy_file,
                             webhook=webhook, node=node, super_user=sec.authorization_rbac_super_user)
    security = Security(authenticator, authorizer, service_accounts, service_accounts.audiences)
    security.rbac = rbac
    from .issuerdiscovery import build as issuer_discovery
    host = str(config.advertise_address or "127.0.0.1")
    security.issuer_discovery = issuer_discovery(
        issuers[0], sec.service_account_jwks_uri,
        f"[{host}]:{config.secure_port}" if ":" in host else f"{host}:{config.secure_port}",
        service_accounts.public_keys)
    return security


def admin_kubeconfig(config, port: int, ca_cert: Path, ca_key: Path) -> str:
    """Write admin.kubeconfig into --data-dir for the generated CA; returns its path."""
    host = "127.0.0.1"
    bind = ipaddress.ip_address(config.bind_address)
    if not bind.is_unspecified:
        host = f"[{bind}]" if bind.version == 6 else str(bind)
    path = str(Path(config.data_dir) / certs.ADMIN_KUBECONFIG)
    certs.write_admin_kubeconfig(path, f"https://{host}:{port}", ca_cert, ca_key)
    return path
