/* tls: OpenSSL contexts for the daemons' TLS listeners and clients.
 *
 * A server context comes from a certificate and key in PEM files, or, when none are given,
 * from a self-signed EC P-256 certificate made in memory at start (what a test bed or a
 * single-box install wants: the peers connect without verification, as the original's
 * clients of irond did).  lib/http (server) and lib/http_client use these contexts with
 * libevent's OpenSSL bufferevents. */
#ifndef CONTRAIL_TLS_H
#define CONTRAIL_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

/* A server context with CERTFILE and KEYFILE (PEM), or with a fresh self-signed certificate
 * for COMMON_NAME when both are NULL or empty.  Returns the context (the caller owns one
 * reference: SSL_CTX_free), or NULL with a message in ERR. */
SSL_CTX *tls_server_ctx_new(const char *certfile, const char *keyfile, const char *common_name,
                            char *err, size_t errlen);

/* A client context.  With VERIFY the peer's certificate chain is checked against CAFILE (PEM),
 * or the system's default trust store when CAFILE is NULL; without it any certificate is
 * accepted.  Returns the context, or NULL with a message in ERR. */
SSL_CTX *tls_client_ctx_new(bool verify, const char *cafile, char *err, size_t errlen);

/* The text of the most recent OpenSSL error of this thread (clears the queue), into BUF. */
const char *tls_last_error(char *buf, size_t size);

#endif
