/*-------------------------------------------------------------------------
 *
 * metrics_http.h
 *	  The HTTP server of --metrics-addr: /metrics and /healthz.
 *
 * libmicrohttpd serves from a thread of its own, which only renders the
 * registry (metrics.h) and reads the health; the job's thread never waits
 * for it.  GET /metrics: every metric in Prometheus' text format 0.0.4.
 * GET /healthz: 200 "ok" while the job makes progress or waits, connected,
 * for work; 503 with the reason otherwise (metrics_healthy()).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_METRICS_HTTP_H
#define PGFERRY_METRICS_HTTP_H

#include <stdbool.h>

/*
 * Listens on addr, "HOST:PORT" ("[::1]:9187"; ":9187" for every address),
 * and serves until metrics_http_stop().  False, with the error logged
 * (naming the address), when addr is not such an address or cannot be
 * listened on (its port in use).
 */
extern bool metrics_http_start(const char *addr);
extern void metrics_http_stop(void);
/* Whether the metrics are served (what is worth measuring only for them). */
extern bool metrics_http_serving(void);

#endif /* PGFERRY_METRICS_HTTP_H */
