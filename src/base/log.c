#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;
static const char *prog_name = "mesh";
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level l) { min_level = l; }
void log_set_prog(const char *prog) { prog_name = prog; }

void log__write(enum log_level l, const char *func, const char *fmt, ...) {
  if (l < min_level) return;
  char line[1024];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line,
                   "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s level=%s func=%s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, prog_name,
                   level_names[l], func);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof line)
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  /* One write per line so lines from several processes do not interleave. */
  fprintf(stderr, "%s\n", line);
}
