/* tls: OpenSSL contexts (see tls.h). */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>

const char *
tls_last_error(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    if (!e) {
        snprintf(buf, size, "unknown TLS error");
    } else {
        ERR_error_string_n(e, buf, size);
    }
    ERR_clear_error();
    return buf;
}

static SSL_CTX *
tls_fail(SSL_CTX *ctx, const char *what, char *err, size_t errlen)
{
    char buf[256];
    snprintf(err, errlen, "%s: %s", what, tls_last_error(buf, sizeof buf));
    SSL_CTX_free(ctx);
    return NULL;
}

/* A self-signed certificate for CN with key PKEY, valid from now for ten years. */
static X509 *
tls_self_signed(EVP_PKEY *pkey, const char *cn)
{
    X509 *x = X509_new();
    if (!x) {
        return NULL;
    }
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))
        && X509_set_version(x, 2)
        && X509_gmtime_adj(X509_getm_notBefore(x), -3600)
        && X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600)
        && X509_set_pubkey(x, pkey);
    BN_free(bn);
    X509_NAME *name = X509_get_subject_name(x);
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                          (const unsigned char *) cn, -1, -1, 0)
        && X509_set_issuer_name(x, name);
    if (ok) {
        char san[300];
        snprintf(san, sizeof san, "DNS:%s,IP:127.0.0.1", cn);
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
        ok = ext && X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (!ok || !X509_sign(x, pkey, EVP_sha256())) {
        X509_free(x);
        return NULL;
    }
    return x;
}

SSL_CTX *
tls_server_ctx_new(const char *certfile, const char *keyfile, const char *common_name,
                   char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        return tls_fail(NULL, "SSL_CTX_new", err, errlen);
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    bool have_files = certfile && *certfile;
    if (have_files != (keyfile && *keyfile)) {
        snprintf(err, errlen, "certfile and keyfile must be given together");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (have_files) {
        if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1) {
            return tls_fail(ctx, certfile, err, errlen);
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, keyfile, SSL_FILETYPE_PEM) != 1) {
            return tls_fail(ctx, keyfile, err, errlen);
        }
    } else {
        EVP_PKEY *pkey = EVP_EC_gen("P-256");
        if (!pkey) {
            return tls_fail(ctx, "EC key generation", err, errlen);
        }
        X509 *x = tls_self_signed(pkey, common_name && *common_name ? common_name
                                                                    : "localhost");
        bool ok = x && SSL_CTX_use_certificate(ctx, x) == 1
            && SSL_CTX_use_PrivateKey(ctx, pkey) == 1;
        X509_free(x);
        EVP_PKEY_free(pkey);
        if (!ok) {
            return tls_fail(ctx, "self-signed certificate", err, errlen);
        }
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        return tls_fail(ctx, "certificate and key do not match", err, errlen);
    }
    return ctx;
}

SSL_CTX *
tls_client_ctx_new(bool verify, const char *cafile, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        return tls_fail(NULL, "SSL_CTX_new", err, errlen);
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (verify) {
        int ok = cafile && *cafile ? SSL_CTX_load_verify_locations(ctx, cafile, NULL)
                                   : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            return tls_fail(ctx, cafile && *cafile ? cafile : "default trust store", err,
                            errlen);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}
