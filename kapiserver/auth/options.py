"""
The security flags, validated: serving certificates, authentication,
authorization, admission and audit.  Parsed from the same options mapping as
ServerConfig (kapiserver.config), raising OptionError (kapiserver.flags) naming the flag.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Tuple

from ..flags import OptionError, parse_bool, parse_duration, split_list
from .authz import check_modes
from .tls import CIPHER_SUITES, TLS_VERSIONS

# (flag, default, help) for tap.Options; booleans are listed in BOOLEAN_FLAGS, lists in LIST_FLAGS.
PARAMETERS = [
    ("cert-dir", None, "Directory for the generated CA, serving certificate and keys when --tls-cert-file is "
                       "not given (default: pki under --data-dir)."),
    ("tls-cert-file", None, "Serving certificate (PEM, with intermediates after it)."),
    ("tls-private-key-file", None, "Private key of --tls-cert-file."),
    ("tls-min-version", None, "Minimum TLS version: VersionTLS12 or VersionTLS13 (default VersionTLS12)."),
    ("tls-cipher-suites", None, "Comma separated TLS 1.2 cipher suites, by Go name."),
    ("http2-max-streams-per-connection", "0", "Concurrent HTTP/2 streams a client may open on one connection; "
                                              "0 means Go's default, 250."),
    ("client-ca-file", None, "CA bundle that signs client certificates (CN is the user, O the groups)."),
    ("token-auth-file", None, "Static bearer tokens, CSV: token,user,uid,\"group1,group2\"."),
    ("basic-auth-file", None, "Static passwords for basic auth, CSV: password,user,uid,\"group1,group2\"."),
    ("experimental-keystone-url", None, "Keystone's URL: basic-auth credentials are checked there."),
    ("experimental-keystone-ca-file", None, "CA bundle that signs Keystone's serving certificate."),
    ("anonymous-auth", "true", "Requests with no credentials are system:anonymous in system:unauthenticated."),
    ("service-account-key-file", None, "PEM files with public (or private) keys that verify service-account "
                                       "tokens; repeatable. Default: the signing key."),
    ("service-account-signing-key-file", None, "Private key that signs service-account tokens (default: the "
                                               "TLS private key, or one generated in --cert-dir)."),
    ("service-account-issuer", None, "Issuer of service-account tokens; repeatable, the first issues."),
    ("service-account-jwks-uri", None, "The JSON Web Key Set URI /.well-known/openid-configuration names (an "
                                       "https URL); by default this server's /openid/v1/jwks at its advertised "
                                       "address and secure port."),
    ("service-account-lookup", "true", "Check that a token's service account still exists."),
    ("service-account-max-token-expiration", None, "Longest TokenRequest expiration (a Go duration)."),
    ("api-audiences", None, "Audiences of the API; tokens must have one (default: the issuers)."),
    ("oidc-issuer-url", None, "The https URL of the OpenID issuer; ID tokens it signs are accepted."),
    ("oidc-client-id", None, "The client ID ID tokens must be issued for (their aud)."),
    ("oidc-ca-file", None, "CA bundle that signs the issuer's serving certificate."),
    ("oidc-username-claim", "sub", "The claim holding the user name."),
    ("oidc-username-prefix", None, "Prefix of user names; - for none."),
    ("oidc-groups-claim", None, "The claim holding the groups (a string or a list)."),
    ("oidc-groups-prefix", None, "Prefix of group names."),
    ("oidc-required-claim", None, "key=value claims an ID token must carry; repeatable."),
    ("authorization-mode", "AlwaysAllow", "Comma separated: AlwaysAllow, AlwaysDeny, ABAC, RBAC, Webhook, Node."),
    ("authorization-policy-file", None, "The ABAC policy, one JSON object per line."),
    ("authorization-webhook-config-file", None, "kubeconfig of the authorization webhook."),
    ("authorization-rbac-super-user", None, "A user name RBAC lets do everything."),
    ("authentication-token-webhook-config-file", None, "kubeconfig of the token-review webhook."),
    ("authentication-token-webhook-cache-ttl", "2m0s", "How long webhook token answers are cached."),
    ("enable-admission-plugins", None, "Admission plugins to turn on besides the defaults, comma separated."),
    ("disable-admission-plugins", None, "Admission plugins to turn off, comma separated."),
    ("admission-control", None, "DEPRECATED: the exact, ordered list of admission plugins."),
    ("admission-control-config-file", None, "AdmissionConfiguration file with per-plugin configuration."),
    ("default-not-ready-toleration-seconds", "300",
     "tolerationSeconds of the not-ready NoExecute toleration DefaultTolerationSeconds adds to pods."),
    ("default-unreachable-toleration-seconds", "300",
     "tolerationSeconds of the unreachable NoExecute toleration DefaultTolerationSeconds adds to pods."),
    ("allow-privileged", "false", "Allow privileged containers."),
    ("audit-log-path", None, "Write one audit event per request to this file as JSON lines; - is stdout."),
    ("proxy-client-cert-file", None, "Client certificate the aggregator presents to extension apiservers "
                                     "(default: one generated in --cert-dir by a front-proxy CA of its own)."),
    ("proxy-client-key-file", None, "Private key of --proxy-client-cert-file."),
    ("requestheader-client-ca-file", None,
     "CA bundle that signs the client certificates of front proxies: a request presenting one (with a common "
     "name in --requestheader-allowed-names, if given) is the user its --requestheader-*-headers name."),
    ("requestheader-allowed-names", None, "Common names front-proxy client certificates may have (any if empty)."),
    ("requestheader-username-headers", None, "Request headers holding the user name (the first present wins); "
                                             "X-Remote-User is common."),
    ("requestheader-group-headers", None, "Request headers holding the groups; X-Remote-Group is common."),
    ("requestheader-extra-headers-prefix", None, "Prefixes of request headers holding extra user information; "
                                                 "X-Remote-Extra- is common."),
]
BOOLEAN_FLAGS = frozenset({"anonymous-auth", "service-account-lookup", "allow-privileged"})
LIST_FLAGS = frozenset({"service-account-key-file", "service-account-issuer", "api-audiences",
                        "tls-cipher-suites", "enable-admission-plugins", "disable-admission-plugins",
                        "admission-control", "authorization-mode", "oidc-required-claim",
                        "requestheader-allowed-names", "requestheader-username-headers",
                        "requestheader-group-headers", "requestheader-extra-headers-prefix"})


@dataclasses.dataclass(frozen=True)
class SecurityConfig:
    """The defaults are what no flags give (the AlwaysAllow default turns anonymous requests off)."""
    cert_dir: str = "./kapiserver-data/pki"
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    tls_min_version: str = ""
    tls_cipher_suites: Tuple[str, ...] = ()
    http2_max_streams_per_connection: int = 0
    client_ca_file: str = ""
    token_auth_file: str = ""
    basic_auth_file: str = ""
    anonymous_auth: bool = False
    experimental_keystone_url: str = ""
    experimental_keystone_ca_file: str = ""
    service_account_key_files: Tuple[str, ...] = ()
    service_account_signing_key_file: str = ""
    service_account_issuers: Tuple[str, ...] = ()
    service_account_jwks_uri: str = ""
    service_account_lookup: bool = True
    service_account_max_token_expiration: float = 0.0
    api_audiences: Tuple[str, ...] = ()
    authorization_modes: Tuple[str, ...] = ("AlwaysAllow",)
    authorization_policy_file: str = ""
    authorization_webhook_config_file: str = ""
    authorization_rbac_super_user: str = ""
    authentication_token_webhook_config_file: str = ""
    authentication_token_webhook_cache_ttl: float = 120.0
    oidc_issuer_url: str = ""
    oidc_client_id: str = ""
    oidc_ca_file: str = ""
    oidc_username_claim: str = "sub"
    oidc_username_prefix: Optional[str] = None
    oidc_groups_claim: str = ""
    oidc_groups_prefix: str = ""
    oidc_required_claims: Tuple[Tuple[str, str], ...] = ()
    enable_admission_plugins: Tuple[str, ...] = ()
    disable_admission_plugins: Tuple[str, ...] = ()
    admission_control: Tuple[str, ...] = ()
    admission_control_config_file: str = ""
    default_not_ready_toleration_seconds: int = 300
    default_unreachable_toleration_seconds: int = 300
    allow_privileged: bool = False
    audit_log_path: str = ""
    proxy_client_cert_file: str = ""
    proxy_client_key_file: str = ""
    requestheader_client_ca_file: str = ""
    requestheader_allowed_names: Tuple[str, ...] = ()
    requestheader_username_headers: Tuple[str, ...] = ()
    requestheader_group_headers: Tuple[str, ...] = ()
    requestheader_extra_headers_prefix: Tuple[str, ...] = ()
    # Upstream turns anonymous requests off when AlwaysAllow would let them do anything.
    anonymous_disabled_by_always_allow: bool = True

    def issuer(self) -> str:
        return self.service_account_issuers[0] if self.service_account_issuers else \
            "https://kubernetes.default.svc.cluster.local"


def parse_security(options, data_dir: str) -> SecurityConfig:
    """The security flags of ``options`` (keyed by long flag name); OptionError names an unusable one."""
    error, split = OptionError, split_list
    def get(flag, default=""):
        value = options.get(flag)
        return default if value is None else value

    def boolean(flag, default):
        value = options.get(flag)
        if value is None:
            return default
        try:
            return parse_bool(value)
        except ValueError as e:
            raise error(flag, f'invalid argument "{value}" for "--{flag}" flag: {e}') from None

    def existing(flag):
        path = str(get(flag)).strip()
        if path and not os.path.exists(path):
            raise error(flag, f"--{flag} {path}: no such file")
        return path

    cert_file, key_file = existing("tls-cert-file"), existing("tls-private-key-file")
    if bool(cert_file) != bool(key_file):
        raise error("tls-cert-file", "--tls-cert-file and --tls-private-key-file must be given together")
    min_version = str(get("tls-min-version")).strip()
    if min_version and min_version not in TLS_VERSIONS:
        raise error("tls-min-version", f'invalid argument "{min_version}" for "--tls-min-version" flag: '
                                       f"unknown tls version; supported: {', '.join(sorted(TLS_VERSIONS))}")
    suites = tuple(split(get("tls-cipher-suites", None)))
    for suite in suites:
        if suite not in CIPHER_SUITES:
            raise error("tls-cipher-suites", f"Cipher suite {suite} not supported or doesn't exist")
    streams_text = str(get("http2-max-streams-per-connection", "0")).strip() or "0"
    try:
        max_streams = int(streams_text)
    except ValueError:
        raise error("http2-max-streams-per-connection", f'invalid argument "{streams_text}" for '
                    f'"--http2-max-streams-per-connection" flag: parse error') from None
    if max_streams < 0:
        raise error("http2-max-streams-per-connection", "--http2-max-streams-per-connection can not be negative")
    def integer(flag, default):
        text = str(get(flag, default)).strip()
        try:
            return int(text)
        except ValueError:
            raise error(flag, f'invalid argument "{text}" for "--{flag}" flag: parse error') from None

    modes = tuple(split(get("authorization-mode", None))) or ("AlwaysAllow",)
    problem = check_modes(list(modes))
    if problem:
        raise error("authorization-mode", problem)
    policy = existing("authorization-policy-file")
    if ("ABAC" in modes) != bool(policy):
        raise error("authorization-policy-file",
                    "authorization-mode ABAC needs --authorization-policy-file, and it is only used with ABAC")
    webhook = existing("authorization-webhook-config-file")
    if ("Webhook" in modes) != bool(webhook):
        raise error("authorization-webhook-config-file", "authorization-mode Webhook needs "
                    "--authorization-webhook-config-file, and it is only used with Webhook")
    max_expiration = 0.0
    if options.get("service-account-max-token-expiration") is not None:
        try:
            max_expiration = parse_duration(options["service-account-max-token-expiration"])
        except ValueError as e:
            raise error("service-account-max-token-expiration", str(e)) from None
    ttl = 120.0
    if options.get("authentication-token-webhook-cache-ttl") is not None:
        try:
            ttl = parse_duration(options["authentication-token-webhook-cache-ttl"])
        except ValueError as e:
            raise error("authentication-token-webhook-cache-ttl", str(e)) from None
    jwks_uri = str(get("service-account-jwks-uri")).strip()
    if jwks_uri and not jwks_uri.startswith("https://"):
        raise error("service-account-jwks-uri", "service-account-jwks-uri requires https scheme")
    issuer_url = str(get("oidc-issuer-url")).strip()
    client_id = str(get("oidc-client-id")).strip()
    if issuer_url and not issuer_url.startswith("https://"):
        raise error("oidc-issuer-url", f"oidc-issuer-url {issuer_url!r} must use the https scheme")
    if bool(issuer_url) != bool(client_id):
        raise error("oidc-client-id", "oidc-issuer-url and oidc-client-id must be specified together")
    required = []
    for item in split(get("oidc-required-claim", None)):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise error("oidc-required-claim", f'invalid argument "{item}" for "--oidc-required-claim" flag: '
                                               f"want key=value")
        required.append((key, value))
    proxy_cert, proxy_key = existing("proxy-client-cert-file"), existing("proxy-client-key-file")
    if bool(proxy_cert) != bool(proxy_key):
        raise error("proxy-client-cert-file",
                    "--proxy-client-cert-file and --proxy-client-key-file must be given together")
    anonymous = boolean("anonymous-auth", True)
    disabled_by_always_allow = anonymous and "AlwaysAllow" in modes
    return SecurityConfig(
        cert_dir=str(get("cert-dir")).strip() or os.path.join(data_dir, "pki"),
        tls_cert_file=cert_file, tls_private_key_file=key_file, tls_min_version=min_version,
        tls_cipher_suites=suites, http2_max_streams_per_connection=max_streams,
        client_ca_file=existing("client-ca-file"),
        token_auth_file=existing("token-auth-file"), basic_auth_file=existing("basic-auth-file"),
        anonymous_auth=anonymous and not disabled_by_always_allow,
        experimental_keystone_url=str(get("experimental-keystone-url")).strip(),
        experimental_keystone_ca_file=existing("experimental-keystone-ca-file"),
        service_account_key_files=tuple(split(get("service-account-key-file", None))),
        service_account_signing_key_file=existing("service-account-signing-key-file"),
        service_account_issuers=tuple(split(get("service-account-issuer", None))),
        service_account_jwks_uri=jwks_uri,
        service_account_lookup=boolean("service-account-lookup", True),
        service_account_max_token_expiration=max_expiration,
        api_audiences=tuple(split(get("api-audiences", None))),
        authorization_modes=modes, authorization_policy_file=policy,
        authorization_webhook_config_file=webhook,
        authorization_rbac_super_user=str(get("authorization-rbac-super-user")).strip(),
        authentication_token_webhook_config_file=existing("authentication-token-webhook-config-file"),
        authentication_token_webhook_cache_ttl=ttl,
        oidc_issuer_url=issuer_url, oidc_client_id=client_id, oidc_ca_file=existing("oidc-ca-file"),
        oidc_username_claim=str(get("oidc-username-claim", "sub")).strip() or "sub",
        oidc_username_prefix=None if options.get("oidc-username-prefix") is None
        else str(options["oidc-username-prefix"]),
        oidc_groups_claim=str(get("oidc-groups-claim")).strip(),
        oidc_groups_prefix=str(get("oidc-groups-prefix")),
        oidc_required_claims=tuple(required),
        enable_admission_plugins=tuple(split(get("enable-admission-plugins", None))),
        disable_admission_plugins=tuple(split(get("disable-admission-plugins", None))),
        admission_control=tuple(split(get("admission-control", None))),
        admission_control_config_file=existing("admission-control-config-file"),
        default_not_ready_toleration_seconds=integer("default-not-ready-toleration-seconds", "300"),
        default_unreachable_toleration_seconds=integer("default-unreachable-toleration-seconds", "300"),
        allow_privileged=boolean("allow-privileged", False),
        requestheader_client_ca_file=existing("requestheader-client-ca-file"),
        requestheader_allowed_names=tuple(split(get("requestheader-allowed-names", None))),
        requestheader_username_headers=tuple(split(get("requestheader-username-headers", None))),
        requestheader_group_headers=tuple(split(get("requestheader-group-headers", None))),
        requestheader_extra_headers_prefix=tuple(split(get("requestheader-extra-headers-prefix", None))),
        audit_log_path=str(get("audit-log-path")).strip(),
        proxy_client_cert_file=proxy_cert, proxy_client_key_file=proxy_key,
        anonymous_disabled_by_always_allow=disabled_by_always_allow,
    )


def anonymous_warning(config: SecurityConfig) -> Optional[str]:
    if config.anonymous_disabled_by_always_allow:
        return "AnonymousAuth is not allowed with the AlwaysAllow authorizer. Resetting AnonymousAuth to false. " \
               "You should use a different authorizer"
    return None
