/* log.h: diagnostics on stderr, prefixed "cti-enrich: ". Never prints the key. */
#ifndef CE_LOG_H
#define CE_LOG_H

enum ce_log_level { CE_LOG_ERROR, CE_LOG_WARN, CE_LOG_INFO, CE_LOG_DEBUG };

/* Messages above this level are dropped (default CE_LOG_WARN). */
void ce_log_set_level(enum ce_log_level level);

void ce_log(enum ce_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ce_err(...) ce_log(CE_LOG_ERROR, __VA_ARGS__)
#define ce_warn(...) ce_log(CE_LOG_WARN, __VA_ARGS__)
#define ce_info(...) ce_log(CE_LOG_INFO, __VA_ARGS__)
#define ce_debug(...) ce_log(CE_LOG_DEBUG, __VA_ARGS__)

#endif
