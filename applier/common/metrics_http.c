/*-------------------------------------------------------------------------
 *
 * metrics_http.c
 *	  The HTTP server of --metrics-addr: /metrics and /healthz.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"

static struct MHD_Daemon *daemon_running;

static enum MHD_Result
reply(struct MHD_Connection *connection, unsigned status, Buf *body,
	  const char *content_type)
{
	struct MHD_Response *response;
	enum MHD_Result result;

	/* MHD frees the body */
	response = MHD_create_response_from_buffer(body->len, body->data,
											   MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
							content_type);
	result = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return result;
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *connection, const char *url,
	   const char *method, const char *version, const char *upload_data,
	   size_t *upload_data_size, void **req_cls)
{
	Buf body = BUF_INIT;
	char reason[256];

	(void) cls;
	(void) version;
	(void) upload_data;
	(void) upload_data_size;
	(void) req_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
	{
		buf_append_str(&body, "only GET\n");
		return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, &body,
					 "text/plain");
	}
	if (strcmp(url, "/metrics") == 0)
	{
		metrics_render(&body);
		return reply(connection, MHD_HTTP_OK, &body,
					 "text/plain; version=0.0.4; charset=utf-8");
	}
	if (strcmp(url, "/healthz") == 0)
	{
		if (metrics_healthy(reason, sizeof(reason)))
		{
			buf_append_str(&body, "ok\n");
			return reply(connection, MHD_HTTP_OK, &body, "text/plain");
		}
		buf_printf(&body, "%s\n", reason);
		return reply(connection, MHD_HTTP_SERVICE_UNAVAILABLE, &body,
					 "text/plain");
	}
	buf_append_str(&body, "not found: try /metrics or /healthz\n");
	return reply(connection, MHD_HTTP_NOT_FOUND, &body, "text/plain");
}

/* A socket listening on addr, or -1 (logged). */
static int
listen_on(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {0};
	struct addrinfo *found = NULL;
	char *host;
	int fd = -1;
	int err;
	int one = 1;

	if (colon == NULL || colon[1] == '\0')
	{
		log_error("--metrics-addr \"%s\" is not HOST:PORT", addr);
		log_hint("like 127.0.0.1:9187, [::1]:9187 or :9187 (every address)");
		return -1;
	}
	host = xstrndup(addr, colon - addr);
	if (host[0] == '[' && host[strlen(host) - 1] == ']')
	{
		memmove(host, host + 1, strlen(host) - 2);
		host[strlen(host) - 2] = '\0';
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	err = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &found);
	free(host);
	if (err != 0)
	{
		log_error("--metrics-addr \"%s\": %s", addr, gai_strerror(err));
		return -1;
	}
	fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC,
				found->ai_protocol);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, found->ai_addr, found->ai_addrlen) != 0 ||
		listen(fd, 16) != 0)
	{
		log_error("could not listen on --metrics-addr %s: %s", addr,
				  strerror(errno));
		log_hint("choose a free port, or stop what listens on this one");
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(found);
	return fd;
}

bool
metrics_http_start(const char *addr)
{
	int fd = listen_on(addr);
	sigset_t all, old;

	if (fd < 0)
		return false;

	/*
	 * SIGINT and SIGTERM are for the job's thread: one delivered to the
	 * server's would not cut the job's sleep short.  MHD makes its thread
	 * itself (not through thread_start()), and it inherits this mask.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	daemon_running =
		MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
						 answer, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
						 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (daemon_running == NULL)
	{
		log_error("could not serve the metrics on --metrics-addr %s", addr);
		close(fd);
		return false;
	}
	metrics_heartbeat();
	log_info("serving metrics on http://%s/metrics", addr);
	return true;
}

void
metrics_http_stop(void)
{
	if (daemon_running)
		MHD_stop_daemon(daemon_running);
	daemon_running = NULL;
}

bool
metrics_http_serving(void)
{
	return daemon_running != NULL;
}
