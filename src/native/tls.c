/* tls.c - TLS over the transport interface with OpenSSL (placeholder until
 * the TLS transport lands). */
#include "wsc.h"
#include "common/error.h"

int wsc_tls_server_new(const wsc_tls_options *opts, wsc_tls_server **out)
{
    (void)opts;
    if (out)
        *out = NULL;
    return wsc_fail(WSC_ENOTSUP, "TLS is not built yet");
}

void wsc_tls_server_free(wsc_tls_server *s)
{
    (void)s;
}
