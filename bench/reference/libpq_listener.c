// The raw limit for one listener: plain libpq, no parsing, no copying, no output.
// Whatever pgpulse does per notification is measured against this loop.
//
//   libpq_listener CONNINFO CHANNEL COUNT
//
// Prints `ready` on stderr once LISTEN has committed, then counts notifications until COUNT
// have arrived and exits 0. Nothing goes to stdout: the benchmark measures CPU from outside.
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(PGconn *conn, const char *what) {
  fprintf(stderr, "libpq_listener: %s: %s", what, conn ? PQerrorMessage(conn) : "out of memory\n");
  PQfinish(conn);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s CONNINFO CHANNEL COUNT\n", argv[0]);
    return 2;
  }
  const long count = strtol(argv[3], NULL, 10);

  // expand_dbname=1 lets CONNINFO be a URL; the fallback name lets the benchmark spot our backend.
  const char *const keys[] = {"dbname", "fallback_application_name", NULL};
  const char *const values[] = {argv[1], "bench_libpq_listener", NULL};
  PGconn *conn = PQconnectdbParams(keys, values, 1);
  if (conn == NULL || PQstatus(conn) != CONNECTION_OK) return fail(conn, "connect");

  char *channel = PQescapeIdentifier(conn, argv[2], strlen(argv[2]));
  if (channel == NULL) return fail(conn, "escape channel");
  char *sql = malloc(strlen(channel) + sizeof "LISTEN ");
  if (sql == NULL) return fail(NULL, "LISTEN");
  strcpy(sql, "LISTEN ");
  strcat(sql, channel);
  PQfreemem(channel);
  PGresult *res = PQexec(conn, sql);
  free(sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    PQclear(res);
    return fail(conn, "LISTEN");
  }
  PQclear(res);
  fputs("ready\n", stderr);
  fflush(stderr);

  struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
  long received = 0;
  while (received < count) {
    if (poll(&pfd, 1, -1) < 0) return fail(conn, "poll");
    if (!PQconsumeInput(conn)) return fail(conn, "read");
    PGnotify *note;
    while ((note = PQnotifies(conn)) != NULL) {
      ++received;
      PQfreemem(note);
    }
  }
  PQfinish(conn);
  return 0;
}
