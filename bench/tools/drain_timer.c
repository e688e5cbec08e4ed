// Runs one listener as its child so a benchmark can freeze it while notifications pile up, then
// time only the drain: wall time from resume to exit, and the CPU the child spent in between.
//
//   drain_timer RESULT_FILE TIMEOUT_S CMD [ARGS...]
//   kill -USR1 <drain_timer>   freeze the child (SIGSTOP)
//   kill -USR2 <drain_timer>   note the clock and the child's CPU so far, then SIGCONT it
//
// When the child ends, one JSON line goes to RESULT_FILE. The child keeps our stdout and stderr.
// Why not GNU time: it prints CPU in 10 ms steps (a 200k drain by raw libpq takes ~50 ms) and
// counts start-up, which for Node alone is ~50 ms of CPU; here both clocks start at the resume.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;
static clockid_t child_cpu_clock;
static volatile sig_atomic_t resumed, timed_out;
static struct timespec resume_wall, resume_cpu;

static long long micros(struct timespec t) { return t.tv_sec * 1000000LL + t.tv_nsec / 1000; }

// Only async-signal-safe calls in here (clock_gettime, kill).
static void on_signal(int sig) {
  if (sig == SIGUSR1) {
    kill(child, SIGSTOP);
  } else if (sig == SIGUSR2) {
    clock_gettime(child_cpu_clock, &resume_cpu);
    clock_gettime(CLOCK_MONOTONIC, &resume_wall);
    resumed = 1;
    kill(child, SIGCONT);
  } else if (sig == SIGALRM) {
    timed_out = 1;
    kill(child, SIGKILL);
  } else {  // SIGTERM, SIGINT: the benchmark is being torn down; do not leave the child behind.
    kill(child, SIGKILL);
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s RESULT_FILE TIMEOUT_S CMD [ARGS...]\n", argv[0]);
    return 2;
  }
  FILE *result = fopen(argv[1], "w");
  if (result == NULL) {
    perror(argv[1]);
    return 2;
  }
  // Signals are blocked until the child and its CPU clock exist, so a handler never sees pid 0.
  sigset_t handled, old;
  sigemptyset(&handled);
  int signals[] = {SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGINT};
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; ++i) sigaddset(&handled, signals[i]);
  sigprocmask(SIG_BLOCK, &handled, &old);

  child = fork();
  if (child < 0) {
    perror("fork");
    return 2;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvp(argv[3], argv + 3);
    perror(argv[3]);
    _exit(127);
  }
  if (clock_getcpuclockid(child, &child_cpu_clock) != 0) {
    kill(child, SIGKILL);
    fprintf(stderr, "drain_timer: no CPU clock for the child\n");
    return 2;
  }
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; ++i) sigaction(signals[i], &sa, NULL);
  alarm((unsigned)atoi(argv[2]));
  sigprocmask(SIG_SETMASK, &old, NULL);

  int status;
  struct rusage usage;
  while (wait4(child, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      perror("wait4");
      return 2;
    }
  }
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  sigprocmask(SIG_BLOCK, &handled, NULL);

  // utime + stime add up to the same runtime the CPU clock counts, so the difference is the drain.
  const long long cpu_total = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000LL +
                              usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
  const long long cpu_before = resumed ? micros(resume_cpu) : -1;
  fprintf(result,
          "{\"exit_code\":%d,\"signal\":%d,\"timed_out\":%s,\"wall_us\":%lld,\"cpu_us\":%lld,"
          "\"cpu_before_resume_us\":%lld,\"cpu_total_us\":%lld,\"max_rss_kb\":%ld}\n",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
          timed_out ? "true" : "false", resumed ? micros(end) - micros(resume_wall) : -1,
          resumed ? cpu_total - cpu_before : -1, cpu_before, cpu_total, usage.ru_maxrss);
  fclose(result);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
