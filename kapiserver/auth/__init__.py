"""Security: serving certificates, authentication, impersonation, authorization and audit."""
