/* ZPL certificate files: the format of czmq's zcert_save and pyzmq's zmq.auth. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "tp_cert.h"

int tp_cert_generate(tp_cert_t *c)
{
    memset(c, 0, sizeof(*c));
    return zmq_curve_keypair(c->public_key, c->secret_key) == 0 ? 0 : -1;
}

bool tp_cert_key_valid(const char *s)
{
    uint8_t raw[32];
    return s != NULL && strlen(s) == TP_Z85_KEY_LEN && zmq_z85_decode(raw, s) != NULL;
}

int tp_cert_write(const char *path, const tp_cert_t *c, bool with_secret, char *err, size_t errlen)
{
    char tmp[4200], date[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", gmtime_r(&now, &tm));
    if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, with_secret ? 0600 : 0644);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fprintf(f,
            "#   ****  Generated on %s UTC by tenderpool  ****\n"
            "#   ZeroMQ CURVE %s Certificate\n"
            "#   %s\n\n"
            "metadata\n"
            "curve\n"
            "    public-key = \"%s\"\n",
            date, with_secret ? "**Secret**" : "Public",
            with_secret ? "DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
                        : "Exchange securely, or use a secure mechanism to verify the contents",
            c->public_key);
    if (with_secret)
        fprintf(f, "    secret-key = \"%s\"\n", c->secret_key);
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* "name = value" or name = "value" inside the curve section: the value into out[41]. */
static int key_value(const char *line, const char *name, char *out)
{
    const char *p = line + strspn(line, " \t");
    size_t n = strlen(name);
    if (strncmp(p, name, n) != 0)
        return 0;
    p += n;
    p += strspn(p, " \t");
    if (*p++ != '=')
        return 0;
    p += strspn(p, " \t");
    char quote = (*p == '"' || *p == '\'') ? *p++ : 0;
    size_t len = quote ? strcspn(p, quote == '"' ? "\"" : "'") : strcspn(p, " \t\r\n#");
    if (len != TP_Z85_KEY_LEN)
        return -1;
    memcpy(out, p, len);
    out[len] = '\0';
    return 1;
}

int tp_cert_read(const char *path, tp_cert_t *c, bool require_private_mode, char *err,
                 size_t errlen)
{
    memset(c, 0, sizeof(*c));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    /* others: never; the group bit is allowed (systemd credentials carry an ACL that shows
     * as 0440 on recent versions) */
    if (require_private_mode && fstat(fileno(f), &st) == 0 && (st.st_mode & 0007)) {
        snprintf(err, errlen,
                 "%s: a secret key must not be readable by others (mode %04o; chmod 600 it)", path,
                 (unsigned)(st.st_mode & 07777));
        fclose(f);
        return -1;
    }
    char line[512];
    bool in_curve = false;
    int bad = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
            continue;
        if (line[0] != ' ' && line[0] != '\t') { /* a section name at column 0 */
            in_curve = strncmp(line, "curve", 5) == 0 && strchr(" \t\r\n", line[5]) != NULL;
            continue;
        }
        if (!in_curve)
            continue;
        int r = key_value(line, "public-key", c->public_key);
        if (r == 0)
            r = key_value(line, "secret-key", c->secret_key);
        bad += r < 0;
    }
    fclose(f);
    if (bad || !tp_cert_key_valid(c->public_key) ||
        (c->secret_key[0] && !tp_cert_key_valid(c->secret_key))) {
        snprintf(err, errlen,
                 "%s: not a ZeroMQ CURVE certificate (curve public-key%s missing or "
                 "not 40 Z85 characters)",
                 path, require_private_mode ? " / secret-key" : "");
        return -1;
    }
    if (require_private_mode && c->secret_key[0] == '\0') {
        snprintf(err, errlen, "%s: has no secret-key (is it the public certificate?)", path);
        return -1;
    }
    return 0;
}
