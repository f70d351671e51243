/* tenderpoold.conf: a declarative key table (SPEC section 6) parsed with inih; errors returned. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "tp_calendar.h"
#include "tp_config.h"
#include "tp_log.h"

typedef enum cfg_type { CFG_STR, CFG_INT, CFG_INT64, CFG_ENUM } cfg_type_t;

typedef struct cfg_enum_name {
    const char *name;
    int value;
} cfg_enum_name_t;

typedef struct cfg_key {
    const char *section;
    const char *key;
    cfg_type_t type;
    size_t offset;
    size_t size;                  /* sizeof the field: string buffer size */
    int64_t min, max;             /* numbers: range; strings: min 1 = must not be empty */
    const cfg_enum_name_t *names; /* enums: accepted names, NULL-terminated */
    bool reloadable;              /* false: a change takes effect only after a restart */
    const char *def;              /* default, parsed by the same setter as file values */
} cfg_key_t;

static const cfg_enum_name_t security_modes[] = {
    {"curve", TP_SECURITY_CURVE},
    {"none", TP_SECURITY_NONE},
    {NULL, 0},
};

static const cfg_enum_name_t log_levels[] = {
    {"err", TP_LOG_ERR},   {"warning", TP_LOG_WARNING}, {"notice", TP_LOG_NOTICE},
    {"info", TP_LOG_INFO}, {"debug", TP_LOG_DEBUG},     {NULL, 0},
};

/* clang-format off */
#define FIELD(f) offsetof(tp_config_t, f), sizeof(((tp_config_t *)0)->f)
#define STR(sec, key, f, required, reload, def) \
    {sec, key, CFG_STR, FIELD(f), required, 0, NULL, reload, def}
#define NUM(sec, key, type, f, lo, hi, reload, def) \
    {sec, key, type, FIELD(f), lo, hi, NULL, reload, def}
#define ENUM(sec, key, f, names, reload, def) \
    {sec, key, CFG_ENUM, FIELD(f), 0, 0, names, reload, def}
/* clang-format on */

/* set_enum stores through an int pointer. */
_Static_assert(sizeof(tp_security_mode_t) == sizeof(int), "enum fields must be int-sized");

/* Every key of SPEC section 6 plus [workers] runtime_dir and heartbeat_timeout, and
 * [tender] ocid_prefix and
 * buyer_name (the OCDS export's identifiers). The socket, process and identity
 * keys need a restart; limits, pooling, tender, batch size and log level reload on SIGHUP.
 * max_message_bytes is a socket option applied at bind, and the round calendar cuts the open
 * round, so both need a restart too. owner_dsn is read by `tenderpool migrate`, `cpv import` and
 * `member`. */
static const cfg_key_t cfg_keys[] = {
    STR("intake", "endpoint", intake_endpoint, 1, false, "tcp://127.0.0.1:5570"),
    NUM("intake", "max_message_bytes", CFG_INT64, max_message_bytes, 1024, 1073741824, false,
        "1048576"),
    NUM("intake", "max_batch_items", CFG_INT, max_batch_items, 1, 1000, true, "1000"),
    STR("control", "endpoint", control_endpoint, 1, false, "ipc:///run/tenderpool/control"),
    STR("metrics", "listen", metrics_listen, 0, false, "127.0.0.1:9570"),
    STR("database", "dsn", dsn, 1, false, "postgresql:///tenderpool"),
    STR("database", "owner_dsn", owner_dsn, 0, true, ""),
    NUM("workers", "count", CFG_INT, worker_count, 1, 64, false, "2"),
    STR("workers", "runtime_dir", runtime_dir, 1, false, "/run/tenderpool"),
    NUM("workers", "heartbeat_timeout", CFG_INT, heartbeat_timeout_s, 2, 3600, true, "90"),
    STR("rounds", "period", period, 1, false, "1w"),
    STR("rounds", "timezone", timezone, 1, false, "Europe/Paris"),
    NUM("pooling", "min_members", CFG_INT, min_members, 1, 1000, true, "3"),
    NUM("pooling", "max_carry_over", CFG_INT, max_carry_over, 0, 100, true, "2"),
    NUM("limits", "member_rate", CFG_INT64, member_rate, 1, 1000000000, true, "50000"),
    NUM("limits", "member_burst", CFG_INT64, member_burst, 1, 1000000000, true, "100000"),
    NUM("limits", "max_in_flight", CFG_INT64, max_in_flight, 1, 1000000000, true, "200000"),
    NUM("tender", "period_days", CFG_INT, tender_period_days, 1, 365, true, "21"),
    STR("tender", "ocid_prefix", ocid_prefix, 1, true, "ocds-tndrpl"),
    STR("tender", "buyer_name", buyer_name, 1, true, "tenderpool coordinator"),
    ENUM("log", "level", log_level, log_levels, true, "info"),
    ENUM("security", "mode", security_mode, security_modes, false, "curve"),
    STR("security", "secret_key_file", secret_key_file, 0, false, ""),
};

#define CFG_NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

/* ---- setters: one per type, each writes the field or explains why not ---- */

typedef int (*cfg_setter_fn)(void *field, const cfg_key_t *k, const char *value, char *msg,
                             size_t msglen);

static int set_str(void *field, const cfg_key_t *k, const char *value, char *msg, size_t msglen)
{
    size_t len = strlen(value);
    if (k->min > 0 && len == 0) {
        snprintf(msg, msglen, "must not be empty");
        return -1;
    }
    if (len >= k->size) {
        snprintf(msg, msglen, "longer than %zu characters", k->size - 1);
        return -1;
    }
    memcpy(field, value, len + 1);
    return 0;
}

static int parse_int64(const cfg_key_t *k, const char *value, int64_t *out, char *msg,
                       size_t msglen)
{
    char *end;
    bool digits = (value[0] >= '0' && value[0] <= '9') ||
                  (value[0] == '-' && value[1] >= '0' && value[1] <= '9');
    errno = 0;
    long long v = digits ? strtoll(value, &end, 10) : 0;
    if (!digits || *end != '\0') {
        snprintf(msg, msglen, "'%.40s' is not an integer", value);
        return -1;
    }
    if (errno == ERANGE || v < k->min || v > k->max) {
        snprintf(msg, msglen, "%.40s is out of range [%lld, %lld]", value, (long long)k->min,
                 (long long)k->max);
        return -1;
    }
    *out = v;
    return 0;
}

static int set_int(void *field, const cfg_key_t *k, const char *value, char *msg, size_t msglen)
{
    int64_t v;
    if (parse_int64(k, value, &v, msg, msglen) != 0)
        return -1;
    *(int *)field = (int)v; /* the table's ranges fit an int */
    return 0;
}

static int set_int64(void *field, const cfg_key_t *k, const char *value, char *msg, size_t msglen)
{
    return parse_int64(k, value, (int64_t *)field, msg, msglen);
}

static void enum_choices(const cfg_enum_name_t *names, char *buf, size_t len)
{
    buf[0] = '\0';
    for (const cfg_enum_name_t *n = names; n->name != NULL; n++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", n == names ? "" : "|", n->name);
    }
}

static int set_enum(void *field, const cfg_key_t *k, const char *value, char *msg, size_t msglen)
{
    char choices[128];
    for (const cfg_enum_name_t *n = k->names; n->name != NULL; n++) {
        if (strcmp(value, n->name) == 0) {
            *(int *)field = n->value;
            return 0;
        }
    }
    enum_choices(k->names, choices, sizeof(choices));
    snprintf(msg, msglen, "'%.40s' is not one of %s", value, choices);
    return -1;
}

static const cfg_setter_fn cfg_setters[] = {
    [CFG_STR] = set_str,
    [CFG_INT] = set_int,
    [CFG_INT64] = set_int64,
    [CFG_ENUM] = set_enum,
};

static int cfg_set(tp_config_t *cfg, const cfg_key_t *k, const char *value, char *msg,
                   size_t msglen)
{
    return cfg_setters[k->type]((char *)cfg + k->offset, k, value, msg, msglen);
}

void tp_config_defaults(tp_config_t *cfg)
{
    char msg[160];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < CFG_NKEYS; i++)
        if (cfg_set(cfg, &cfg_keys[i], cfg_keys[i].def, msg, sizeof(msg)) != 0)
            tp_fatal("config default [%s] %s: %s", cfg_keys[i].section, cfg_keys[i].key, msg);
    memcpy(cfg->owner_dsn, cfg->dsn, sizeof(cfg->owner_dsn));
}

/* ---- loading ---- */

typedef struct cfg_parse {
    tp_config_t *cfg;
    const char *path;
    FILE *fp;
    int line;                /* number of the line last handed to inih */
    int key_line[CFG_NKEYS]; /* where each key was set, 0 when not in the file */
    int err_line;            /* first error's line, 0 when none */
    char *err;
    size_t errlen;
} cfg_parse_t;

static const cfg_key_t *find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < CFG_NKEYS; i++)
        if (strcmp(cfg_keys[i].section, section) == 0 && strcmp(cfg_keys[i].key, key) == 0)
            return &cfg_keys[i];
    return NULL;
}

static bool known_section(const char *section)
{
    for (size_t i = 0; i < CFG_NKEYS; i++)
        if (strcmp(cfg_keys[i].section, section) == 0)
            return true;
    return false;
}

/* Records the first error: "FILE:LINE: what: message" (no LINE for a default value). */
static void cfg_error(cfg_parse_t *p, int line, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void cfg_error(cfg_parse_t *p, int line, const char *what, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (p->err_line != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->err_line = line > 0 ? line : -1;
    if (line > 0)
        snprintf(p->err, p->errlen, "%s:%d: %s: %s", p->path, line, what, msg);
    else
        snprintf(p->err, p->errlen, "%s: %s: %s", p->path, what, msg);
}

static void key_error(cfg_parse_t *p, const cfg_key_t *k, int line, const char *msg)
{
    char what[96];
    snprintf(what, sizeof(what), "[%s] %s", k->section, k->key);
    cfg_error(p, line, what, "%s", msg);
}

static int cfg_handler(void *user, const char *section, const char *name, const char *value)
{
    cfg_parse_t *p = user;
    char what[128], msg[160];
    if (name == NULL)
        return 1; /* new-section callback, when inih is built with one */
    snprintf(what, sizeof(what), "[%.40s] %.60s", section, name);
    const cfg_key_t *k = find_key(section, name);
    if (k == NULL) {
        cfg_error(p, p->line, what, "%s",
                  section[0] == '\0'       ? "key before any [section]"
                  : known_section(section) ? "unknown key"
                                           : "unknown section");
        return 1;
    }
    size_t idx = (size_t)(k - cfg_keys);
    if (p->key_line[idx] != 0) {
        cfg_error(p, p->line, what, "duplicate key (first set on line %d)", p->key_line[idx]);
        return 1;
    }
    p->key_line[idx] = p->line;
    if (cfg_set(p->cfg, k, value ? value : "", msg, sizeof(msg)) != 0)
        key_error(p, k, p->line, msg);
    return 1; /* errors are ours to record; inih's own return then means a syntax error */
}

/* Drops the rest of a line longer than inih's buffer. */
static void skip_rest_of_line(FILE *fp)
{
    int c;
    while ((c = fgetc(fp)) != EOF && c != '\n')
        ;
}

static void strip_leading_space(char *s)
{
    size_t skip = strspn(s, " \t");
    if (skip > 0)
        memmove(s, s + skip, strlen(s + skip) + 1);
}

/* "[name]" lines: an unknown section is an error even when it holds no key. */
static void check_section_line(cfg_parse_t *p, const char *s)
{
    const char *close = strchr(s, ']');
    char name[64];
    if (s[0] != '[' || close == NULL || (size_t)(close - s - 1) >= sizeof(name))
        return; /* inih reports malformed headers; long names cannot be known ones */
    memcpy(name, s + 1, (size_t)(close - s - 1));
    name[close - s - 1] = '\0';
    if (!known_section(name)) {
        char what[80];
        snprintf(what, sizeof(what), "[%s]", name);
        cfg_error(p, p->line, what, "unknown section");
    }
}

/* fgets for inih that counts lines (for messages), refuses over-long lines, and strips
 * indentation so that an indented key is a key, never a continuation of the one above. */
static char *cfg_reader(char *str, int num, void *stream)
{
    cfg_parse_t *p = stream;
    if (fgets(str, num, p->fp) == NULL)
        return NULL;
    p->line++;
    size_t len = strlen(str);
    if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(p->fp)) {
        cfg_error(p, p->line, "line", "longer than %d characters", num - 2);
        skip_rest_of_line(p->fp);
        strcpy(str, "\n");
        return str;
    }
    if (p->line == 1 && strncmp(str, "\xef\xbb\xbf", 3) == 0)
        memmove(str, str + 3, len - 2);
    strip_leading_space(str);
    check_section_line(p, str);
    return str;
}

/* The calendar is checked with the period alone first, so the message points at the
 * right line. */
static void check_rounds(cfg_parse_t *p)
{
    tp_calendar_t cal;
    char msg[160];
    const cfg_key_t *period = find_key("rounds", "period");
    const cfg_key_t *tz = find_key("rounds", "timezone");
    if (tp_calendar_init(&cal, p->cfg->period, "UTC", msg, sizeof(msg)) != 0) {
        key_error(p, period, p->key_line[period - cfg_keys], msg);
        return;
    }
    if (tp_calendar_init(&cal, p->cfg->period, p->cfg->timezone, msg, sizeof(msg)) != 0)
        key_error(p, tz, p->key_line[tz - cfg_keys], msg);
}

/* [metrics] listen: empty, or HOST:PORT with HOST a name, an IPv4 address or an [IPv6] one.
 * Whether it resolves and can be bound is known only when the daemon binds it. */
static void check_metrics_listen(cfg_parse_t *p)
{
    const char *v = p->cfg->metrics_listen, *colon = strrchr(v, ':');
    if (v[0] == '\0')
        return;
    size_t digits = colon ? strspn(colon + 1, "0123456789") : 0;
    bool ok = colon != NULL && colon > v && digits > 0 && digits <= 5 &&
              colon[1 + digits] == '\0' && atol(colon + 1) <= 65535;
    if (ok && v[0] == '[')
        ok = colon[-1] == ']' && colon - v > 2;
    else if (ok)
        ok = memchr(v, ':', (size_t)(colon - v)) == NULL; /* a bare IPv6 address is ambiguous */
    if (!ok) {
        char msg[160];
        const cfg_key_t *k = find_key("metrics", "listen");
        snprintf(msg, sizeof(msg), "'%.60s' is not HOST:PORT ([::1]:PORT for IPv6; empty: off)", v);
        key_error(p, k, p->key_line[k - cfg_keys], msg);
    }
}

static void apply_owner_dsn_default(cfg_parse_t *p)
{
    const cfg_key_t *owner = find_key("database", "owner_dsn");
    if (p->cfg->owner_dsn[0] == '\0' || p->key_line[owner - cfg_keys] == 0)
        memcpy(p->cfg->owner_dsn, p->cfg->dsn, sizeof(p->cfg->owner_dsn));
}

static int parse_file(cfg_parse_t *p)
{
    int rc = ini_parse_stream(cfg_reader, p, cfg_handler, p);
    if (ferror(p->fp)) {
        snprintf(p->err, p->errlen, "%s: read error: %s", p->path, strerror(errno));
        return -1;
    }
    if (rc > 0 && (p->err_line == 0 || rc < p->err_line)) {
        p->err_line = 0;
        cfg_error(p, rc, "syntax error", "expected [section] or key = value");
    }
    if (rc < 0 && p->err_line == 0)
        snprintf(p->err, p->errlen, "%s: out of memory parsing", p->path);
    return rc == 0 && p->err_line == 0 ? 0 : -1;
}

int tp_config_load(tp_config_t *cfg, const char *path, char *err, size_t errlen)
{
    cfg_parse_t p = {.path = path ? path : "(null)", .err = err, .errlen = errlen};
    tp_config_t loaded;
    tp_config_defaults(&loaded); /* a key removed from the file goes back to its default */
    p.cfg = &loaded;
    if (path == NULL || (p.fp = fopen(path, "r")) == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", p.path, path ? strerror(errno) : "no path");
        return -1;
    }
    int rc = parse_file(&p);
    fclose(p.fp);
    if (rc == 0) {
        apply_owner_dsn_default(&p);
        check_rounds(&p);
        check_metrics_listen(&p);
    }
    if (rc != 0 || p.err_line != 0)
        return -1;
    *cfg = loaded; /* all or nothing: a bad file leaves *cfg as it was */
    return 0;
}

/* ---- reload ---- */

static bool key_changed(const cfg_key_t *k, const tp_config_t *a, const tp_config_t *b)
{
    const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
    if (k->type == CFG_STR)
        return strncmp(fa, fb, k->size) != 0;
    return memcmp(fa, fb, k->size) != 0;
}

void tp_config_restart_needed(const tp_config_t *old, const tp_config_t *new_cfg, char *out,
                              size_t outlen)
{
    size_t used = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < CFG_NKEYS; i++) {
        const cfg_key_t *k = &cfg_keys[i];
        if (k->reloadable || !key_changed(k, old, new_cfg))
            continue;
        int n =
            snprintf(out + used, outlen - used, "%s%s.%s", used ? ", " : "", k->section, k->key);
        if (n < 0 || (size_t)n >= outlen - used)
            return; /* truncated: the start of the list is kept */
        used += (size_t)n;
    }
}
