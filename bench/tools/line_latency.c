// Latency of JSON lines on stdin: for each line that holds `"FIELD":N` (N microseconds since
// the epoch, the writer's clock), the time the line was read minus N. Meant for the output of
// `pgpulse watch` piped straight in (`watch --channel` lines hold the row JSON quoted inside
// `payload`; that is found too). C and read(2), so the reader adds nothing to what it measures.
//
//   line_latency [--count N] [--field NAME] [--warmup-seconds W]
//
// Each read(2) is stamped once, when it returns: every line it completes arrived by then.
// Samples stamped within W s of the first one are dropped (warm-up). At EOF, after N stamped
// lines, or on SIGTERM/SIGINT, prints on stdout
//   {"lines":L,"events":E,"latency_us":{"p50":..,"p99":..,"p999":..,"max":..,"samples":S}}
// where E counts the lines with a stamp (the events) and L every line.
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "latency_samples.h"

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

int main(int argc, char** argv) {
  unsigned long long count = 0;
  const char* field = "sent_us";
  struct latency_samples samples = {0};
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
      count = strtoull(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--field") == 0 && i + 1 < argc) {
      field = argv[++i];
    } else if (strcmp(argv[i], "--warmup-seconds") == 0 && i + 1 < argc) {
      samples.warmup_us = (int64_t)(strtod(argv[++i], NULL) * 1e6);
    } else {
      fprintf(stderr, "usage: %s [--count N] [--field NAME] [--warmup-seconds W]\n", argv[0]);
      return 2;
    }
  }
  struct sigaction action = {.sa_handler = on_signal};  // no SA_RESTART: read returns EINTR
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);

  size_t cap = 1 << 20, have = 0;
  char* buf = malloc(cap);
  unsigned long long lines = 0, events = 0;
  if (buf == NULL) return 1;
  while (!stop_requested && (count == 0 || events < count)) {
    if (have == cap) {
      cap *= 2;
      if ((buf = realloc(buf, cap)) == NULL) return 1;
    }
    ssize_t got = read(STDIN_FILENO, buf + have, cap - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      perror("line_latency: read");
      return 1;
    }
    if (got == 0) break;
    const int64_t received = latency_now_us();
    have += (size_t)got;
    char *line = buf, *newline;
    while ((newline = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
      ++lines;
      const int64_t stamp = latency_stamp_in(line, (size_t)(newline - line), field);
      if (stamp >= 0) {
        ++events;
        latency_record(&samples, stamp, received);
        if (count && events == count) break;
      }
      line = newline + 1;
    }
    have -= (size_t)(line - buf);
    memmove(buf, line, have);
  }
  char extra[40];
  snprintf(extra, sizeof extra, "\"lines\":%llu,", lines);
  latency_print(stdout, &samples, extra, events);
  return 0;
}
