/*
 * log.h - one line per event, key=value fields, to stderr.
 *
 * Format: "<time> level=<l> func=<f> <message>". Callers put peer=, node=,
 * event= and reason= fields in the message. Never pass secrets here.
 */
#ifndef MESH_LOG_H
#define MESH_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Messages below this level are dropped (default LOG_INFO). */
void log_set_level(enum log_level l);
/* Adds a fixed prefix field, such as "prog=meshd", to every line. */
void log_set_prog(const char *prog);

void log__write(enum log_level l, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log__write(LOG_DEBUG, __func__, __VA_ARGS__)
#define log_info(...) log__write(LOG_INFO, __func__, __VA_ARGS__)
#define log_warn(...) log__write(LOG_WARN, __func__, __VA_ARGS__)
#define log_error(...) log__write(LOG_ERROR, __func__, __VA_ARGS__)
/* The _r forms append reason=<mesh_strerror(r)>. */
#define log_warn_r(r, fmt, ...)                                       \
  log__write(LOG_WARN, __func__, fmt " reason=\"%s\"", ##__VA_ARGS__, \
             mesh_strerror(r))
#define log_error_r(r, fmt, ...)                                       \
  log__write(LOG_ERROR, __func__, fmt " reason=\"%s\"", ##__VA_ARGS__, \
             mesh_strerror(r))

#endif
