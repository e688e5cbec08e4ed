// Latency samples for the C latency readers (reference/libpq_listener.c --latency and
// tools/line_latency.c): find the writer's stamp in a JSON text, keep receive time minus stamp,
// print percentiles as one JSON object. Header-only, so each reader stays one `cc` command.
//
// Percentiles are nearest-rank on the sorted samples (index floor(p * n)), as in ws_load.
#ifndef PGPULSE_BENCH_LATENCY_SAMPLES_H
#define PGPULSE_BENCH_LATENCY_SAMPLES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct latency_samples {
  uint32_t* us;  // receive time minus stamp, clamped at 0
  size_t n, cap;
  int64_t first_stamp;  // of the first event, for the warm-up
  int64_t warmup_us;    // events stamped within this long after the first are not sampled
};

// Wall clock in microseconds: the clock the server's clock_timestamp() reads on this machine.
static inline int64_t latency_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

// The integer after `"FIELD":` in TEXT, also when TEXT is JSON quoted inside JSON
// (`\"FIELD\":`, as in `watch --channel` lines); -1 when there is none.
static inline int64_t latency_stamp_in(const char* text, size_t len, const char* field) {
  const size_t field_len = strlen(field);
  const char* end = text + len;
  for (const char* at = text; end - at >= (ptrdiff_t)field_len; ++at) {
    if (memcmp(at, field, field_len) != 0 || at == text || at[-1] != '"') continue;
    const char* p = at + field_len;
    if (p < end && *p == '\\') ++p;
    if (p >= end || *p != '"') continue;
    ++p;
    while (p < end && *p == ' ') ++p;
    if (p >= end || *p != ':') continue;
    ++p;
    while (p < end && *p == ' ') ++p;
    if (p >= end || *p < '0' || *p > '9') continue;
    int64_t value = 0;
    while (p < end && *p >= '0' && *p <= '9') value = value * 10 + (*p++ - '0');
    return value;
  }
  return -1;
}

static inline void latency_record(struct latency_samples* s, int64_t stamp, int64_t received) {
  if (s->first_stamp == 0) s->first_stamp = stamp;
  if (stamp < s->first_stamp + s->warmup_us) return;
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 65536;
    s->us = realloc(s->us, s->cap * sizeof *s->us);
    if (s->us == NULL) {
      fputs("latency: out of memory\n", stderr);
      exit(1);
    }
  }
  const int64_t lat = received - stamp;
  s->us[s->n++] = lat < 0 ? 0 : lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
}

static int latency_compare(const void* a, const void* b) {
  const uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
  return (x > y) - (x < y);
}

static inline uint32_t latency_percentile(const struct latency_samples* s, double p) {
  if (s->n == 0) return 0;
  size_t i = (size_t)(p * (double)s->n);
  return s->us[i < s->n ? i : s->n - 1];
}

// {EXTRA"events":E,"latency_us":{"p50":..,"p99":..,"p999":..,"max":..,"samples":..}} and a
// newline; EXTRA is "" or more members, each followed by a comma.
static inline void latency_print(FILE* out, struct latency_samples* s, const char* extra,
                                 uint64_t events) {
  qsort(s->us, s->n, sizeof *s->us, latency_compare);
  fprintf(out,
          "{%s\"events\":%llu,\"latency_us\":{\"p50\":%u,\"p99\":%u,\"p999\":%u,\"max\":%u,"
          "\"samples\":%zu}}\n",
          extra, (unsigned long long)events, latency_percentile(s, 0.5),
          latency_percentile(s, 0.99), latency_percentile(s, 0.999), s->n ? s->us[s->n - 1] : 0,
          s->n);
  fflush(out);
}

#endif
