/*
 * A service's health report (health_report.c).
 */
#ifndef COFFER_HEALTH_REPORT_H
#define COFFER_HEALTH_REPORT_H

#include <jansson.h>

struct cf_audit;

typedef struct {
    const char *service;   /* "coffer-vault", "coffer-blob" */
    const char *url;       /* its HTTPS endpoint */
    const char *store;     /* "sqlite" or "postgresql" */
    const char *data_dir;  /* seal.json, and the size metrics walk */
    const char *cert_path; /* the served certificate (PEM) */
    struct cf_audit *audit;
} cf_health_info;

/* {"service","url","store","seal","tls","data_dir","audit"}; NULL when
 * out of memory. */
json_t *cf_health_report(const cf_health_info *info);

#endif
