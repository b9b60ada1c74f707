/* SPDX-License-Identifier: MIT */
/* cert.h - a throwaway self-signed certificate for the unit tests that run
 * TLS: make_cert() writes one for "localhost" (P-256, an hour) and its key
 * to cert_path and key_path; the test unlinks them. Header-only; include it
 * after OpenSSL's headers. */
#ifndef WSC_TESTS_UNIT_CERT_H
#define WSC_TESTS_UNIT_CERT_H

#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static char cert_path[] = "/tmp/wsc-test-cert-XXXXXX";
static char key_path[] = "/tmp/wsc-test-key-XXXXXX";

/* A self-signed P-256 certificate for localhost, in two temporary files. */
static int make_cert(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!k || !x)
        return -1;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, k, EVP_sha256());
    int cfd = mkstemp(cert_path), kfd = mkstemp(key_path);
    FILE *cf = cfd >= 0 ? fdopen(cfd, "w") : NULL, *kf = kfd >= 0 ? fdopen(kfd, "w") : NULL;
    int ok = cf && kf && PEM_write_X509(cf, x) && PEM_write_PrivateKey(kf, k, NULL, NULL, 0, NULL, NULL);
    if (cf)
        fclose(cf);
    if (kf)
        fclose(kf);
    X509_free(x);
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

#endif
