// The raw limit for one listener: plain libpq, no parsing, no copying, no output.
// Whatever pgpulse does per notification is measured against this loop.
//
//   libpq_listener CONNINFO CHANNEL COUNT [--latency [WARMUP_SECONDS]]
//
// Prints `ready` on stderr once LISTEN has committed, then counts notifications until COUNT
// have arrived and exits 0. Nothing goes to stdout (but with --latency): the benchmark measures
// CPU from outside.
//
// --latency (bench/latency.sh): each notification's payload holds the row JSON with
// `"sent_us":N`, the writer's clock in microseconds; record the time the notification was read
// minus N (one clock reading per PQconsumeInput: every notification it brings had arrived by
// then), drop those stamped within WARMUP_SECONDS of the first, and print the percentiles and
// its own CPU time since `ready` (cpu_us) as JSON on stdout at the end. COUNT 0 means no limit;
// SIGTERM or SIGINT ends the run.
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../tools/latency_samples.h"

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static long long cpu_us(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (long long)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
         usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

static int fail(PGconn* conn, const char* what) {
  fprintf(stderr, "libpq_listener: %s: %s", what, conn ? PQerrorMessage(conn) : "out of memory\n");
  PQfinish(conn);
  return 1;
}

int main(int argc, char** argv) {
  const int latency = argc >= 5 && strcmp(argv[4], "--latency") == 0;
  if (argc < 4 || argc > 6 || (argc > 4 && !latency)) {
    fprintf(stderr, "usage: %s CONNINFO CHANNEL COUNT [--latency [WARMUP_SECONDS]]\n", argv[0]);
    return 2;
  }
  const long count = strtol(argv[3], NULL, 10);
  struct latency_samples samples = {.warmup_us = argc == 6 ? (int64_t)(atof(argv[5]) * 1e6) : 0};
  if (latency) {
    struct sigaction action = {.sa_handler = on_signal};  // no SA_RESTART: poll returns EINTR
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
  }

  // expand_dbname=1 lets CONNINFO be a URL; the fallback name lets the benchmark spot our backend.
  const char* const keys[] = {"dbname", "fallback_application_name", NULL};
  const char* const values[] = {argv[1], "bench_libpq_listener", NULL};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (conn == NULL || PQstatus(conn) != CONNECTION_OK) return fail(conn, "connect");

  char* channel = PQescapeIdentifier(conn, argv[2], strlen(argv[2]));
  if (channel == NULL) return fail(conn, "escape channel");
  char* sql = malloc(strlen(channel) + sizeof "LISTEN ");
  if (sql == NULL) return fail(NULL, "LISTEN");
  strcpy(sql, "LISTEN ");
  strcat(sql, channel);
  PQfreemem(channel);
  PGresult* res = PQexec(conn, sql);
  free(sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    PQclear(res);
    return fail(conn, "LISTEN");
  }
  PQclear(res);
  fputs("ready\n", stderr);
  fflush(stderr);
  const long long cpu_at_ready = latency ? cpu_us() : 0;

  struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
  long received = 0;
  while ((received < count || (latency && count == 0)) && !stop_requested) {
    if (poll(&pfd, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return fail(conn, "poll");
    }
    if (!PQconsumeInput(conn)) return fail(conn, "read");
    const int64_t now = latency ? latency_now_us() : 0;
    PGnotify* note;
    while ((note = PQnotifies(conn)) != NULL) {
      ++received;
      if (latency) {
        const int64_t stamp = latency_stamp_in(note->extra, strlen(note->extra), "sent_us");
        if (stamp >= 0) latency_record(&samples, stamp, now);
      }
      PQfreemem(note);
      if (latency && received == count) break;
    }
  }
  if (latency) {
    char extra[40];
    snprintf(extra, sizeof extra, "\"cpu_us\":%lld,", cpu_us() - cpu_at_ready);
    latency_print(stdout, &samples, extra, (uint64_t)received);
  }
  PQfinish(conn);
  return 0;
}
