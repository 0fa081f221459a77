/*
 * JSON-lines logger.  A line is formatted into a stack buffer and written
 * with one write(2), so lines from different threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpdate.h"
#include "units.h"

static cf_log_level cf_log_min = CF_LOG_INFO;

static const char *const cf_log_names[] = {"debug", "info", "warn", "error"};

void cf_log_set_level(cf_log_level level)
{
    cf_log_min = level;
}

/* Appends `s` JSON-escaped to out[*pos..cap). */
static void cf_log_escape(char *out, size_t cap, size_t *pos, const char *s)
{
    for (; *s && *pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[(*pos)++] = '\\';
            out[(*pos)++] = (char)c;
        } else if (c < 0x20) {
            *pos += (size_t)snprintf(out + *pos, cap - *pos, "\\u%04x", c);
        } else {
            out[(*pos)++] = (char)c;
        }
    }
}

void cf_log(cf_log_level level, const char *request_id, const char *fmt, ...)
{
    if (level < cf_log_min)
        return;
    char msg[1024], line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char stamp[CF_ISO8601_MS_LEN + 1];
    cf_iso8601_format_ms((int64_t)ts.tv_sec * CF_MS_PER_SECOND + ts.tv_nsec / CF_NS_PER_MS, stamp);
    size_t pos = (size_t)snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\"", stamp,
                                  cf_log_names[level]);
    if (request_id) {
        pos += (size_t)snprintf(line + pos, sizeof line - pos, ",\"request_id\":\"");
        cf_log_escape(line, sizeof line, &pos, request_id);
        line[pos++] = '"';
    }
    pos += (size_t)snprintf(line + pos, sizeof line - pos, ",\"msg\":\"");
    cf_log_escape(line, sizeof line - 4, &pos, msg);
    line[pos++] = '"';
    line[pos++] = '}';
    line[pos++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
}

bool cf_log_set_level_name(const char *name)
{
    static const struct {
        const char *name;
        cf_log_level level;
    } levels[] = {{"debug", CF_LOG_DEBUG},
                  {"info", CF_LOG_INFO},
                  {"warn", CF_LOG_WARN},
                  {"error", CF_LOG_ERROR}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(name, levels[i].name) == 0) {
            cf_log_set_level(levels[i].level);
            return true;
        }
    return false;
}
