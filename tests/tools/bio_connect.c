/* bio_connect: an OpenSSL client whose connect BIO opens the connection
 * during the handshake (BIO_new_ssl_connect, then BIO_do_handshake with no
 * BIO_do_connect first), the way some programs use OpenSSL's BIO layer.
 *
 *   bio_connect HOST:PORT CAFILE|- [verify|noverify]
 *
 * Prints "ok <first line of the answer>" after a GET of /, or "fail <verify
 * result>" and exits 1.  The peer is checked by OpenSSL (CAFILE, the host
 * name) unless noverify. */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bio_connect HOST:PORT CAFILE|- [verify|noverify]\n");
        return 2;
    }
    int verify = !(argc > 3 && !strcmp(argv[3], "noverify"));
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return 2;
    if (strcmp(argv[2], "-") && SSL_CTX_load_verify_locations(ctx, argv[2], NULL) != 1) {
        fprintf(stderr, "bio_connect: cannot load %s\n", argv[2]);
        return 2;
    }
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    char host[256];
    snprintf(host, sizeof host, "%s", argv[1]);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = 0;
    BIO *b = BIO_new_ssl_connect(ctx);
    SSL *s = NULL;
    BIO_get_ssl(b, &s);
    if (!b || !s)
        return 2;
    BIO_set_conn_hostname(b, argv[1]);
    SSL_set_tlsext_host_name(s, host);
    SSL_set1_host(s, host);
    if (BIO_do_handshake(b) <= 0) {
        long v = SSL_get_verify_result(s);
        printf("fail %s\n", X509_verify_cert_error_string(v));
        ERR_print_errors_fp(stderr);
        return 1;
    }
    char req[400];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", host);
    if (BIO_write(b, req, n) != n) {
        printf("fail write\n");
        return 1;
    }
    char buf[4096];
    int got = 0, r;
    while (got < (int)sizeof buf - 1 &&
           (r = BIO_read(b, buf + got, (int)sizeof buf - 1 - got)) > 0)
        got += r;
    buf[got] = 0;
    char *body = strstr(buf, "\r\n\r\n");
    body = body ? body + 4 : buf;
    body[strcspn(body, "\r\n")] = 0;
    printf("ok %s\n", body);
    BIO_free_all(b);
    SSL_CTX_free(ctx);
    return 0;
}
