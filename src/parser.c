#define PCRE2_CODE_UNIT_WIDTH 8
#include "parser.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#ifndef CE_PARSERS_DIR
#define CE_PARSERS_DIR ""
#endif
#ifndef CE_SOURCE_PARSERS_DIR
#define CE_SOURCE_PARSERS_DIR ""
#endif

struct ce_parser {
    pcre2_code *re;
    pcre2_match_data *md;
    uint32_t group; /* number of the "ip" group */
    bool first;
};

/* The folders searched for NAME.parser, in order. */
static size_t search_dirs(const char *dirs[3])
{
    size_t n = 0;
    const char *env = getenv("CTI_PARSERS_DIR");
    if (env && *env)
        dirs[n++] = env;
    if (*CE_PARSERS_DIR)
        dirs[n++] = CE_PARSERS_DIR;
    if (*CE_SOURCE_PARSERS_DIR)
        dirs[n++] = CE_SOURCE_PARSERS_DIR;
    return n;
}

static FILE *open_parser(const char *name, char *path, size_t pathlen)
{
    if (strchr(name, '/')) {
        snprintf(path, pathlen, "%s", name);
        return fopen(path, "r");
    }
    const char *dirs[3];
    size_t n = search_dirs(dirs);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, pathlen, "%s/%s.parser", dirs[i], name);
        FILE *f = fopen(path, "r");
        if (f)
            return f;
    }
    snprintf(path, pathlen, "%s", name);
    errno = ENOENT;
    return NULL;
}

struct ce_parser *ce_parser_load(const char *name, char *err, size_t errlen)
{
    if (!name || !strcmp(name, "default")) {
        err[0] = '\0';
        return NULL;
    }
    char path[4096];
    FILE *f = open_parser(name, path, sizeof path);
    if (!f) {
        snprintf(err, errlen, "unknown parser '%s' (see --list-parsers)", name);
        return NULL;
    }
    char line[4096], *pattern = NULL;
    bool first = false, ok = true;
    int lineno = 0;
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = ce_str_trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'name = value'", path, lineno);
            ok = false;
            break;
        }
        *eq = '\0';
        char *key = ce_str_trim(s), *val = ce_str_trim(eq + 1);
        if (!strcmp(key, "pattern")) {
            free(pattern);
            pattern = ce_xstrdup(val);
        } else if (!strcmp(key, "take")) {
            if (strcmp(val, "all") && strcmp(val, "first")) {
                snprintf(err, errlen, "%s:%d: take must be all or first", path, lineno);
                ok = false;
            }
            first = !strcmp(val, "first");
        } else if (strcmp(key, "description")) {
            snprintf(err, errlen, "%s:%d: unknown setting '%s'", path, lineno, key);
            ok = false;
        }
    }
    fclose(f);
    if (ok && !pattern) {
        snprintf(err, errlen, "%s: no pattern", path);
        ok = false;
    }
    struct ce_parser *p = NULL;
    if (ok) {
        int ecode;
        PCRE2_SIZE eoff;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_NEVER_UTF,
                                       &ecode, &eoff, NULL);
        int group = re ? pcre2_substring_number_from_name(re, (PCRE2_SPTR) "ip") : -1;
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ecode, msg, sizeof msg);
            snprintf(err, errlen, "%s: pattern: %s at offset %zu", path, (const char *)msg,
                     (size_t)eoff);
        } else if (group < 0) {
            snprintf(err, errlen, "%s: the pattern has no (?<ip>...) group", path);
            pcre2_code_free(re);
        } else {
            p = ce_xcalloc(1, sizeof *p);
            p->re = re;
            p->group = (uint32_t)group;
            p->first = first;
            pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
            p->md = pcre2_match_data_create_from_pattern(re, NULL);
        }
    }
    free(pattern);
    return p;
}

void ce_parser_destroy(struct ce_parser *p)
{
    if (!p)
        return;
    pcre2_match_data_free(p->md);
    pcre2_code_free(p->re);
    free(p);
}

size_t ce_parser_extract(const struct ce_parser *p, struct ce_extractor *x, const char *line,
                         size_t len, struct ce_addr *out, size_t max)
{
    if (!p)
        return ce_extract_line(x, line, len, out, max);
    size_t n = 0, off = 0;
    while (off <= len && n < max) {
        int rc = pcre2_match(p->re, (PCRE2_SPTR)line, len, off, 0, p->md, NULL);
        if (rc < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
        if (rc > (int)p->group && ov[2 * p->group] != PCRE2_UNSET) {
            struct ce_addr found[CE_EXTRACT_MAX];
            size_t k =
                ce_extract_line(x, line + ov[2 * p->group], ov[2 * p->group + 1] - ov[2 * p->group],
                                found, p->first ? 1 : CE_EXTRACT_MAX);
            for (size_t i = 0; i < k && n < max; i++) {
                bool dup = false;
                for (size_t j = 0; j < n; j++)
                    dup = dup || (out[j].family == found[i].family &&
                                  !memcmp(out[j].bytes, found[i].bytes, 16));
                if (!dup)
                    out[n++] = found[i];
            }
            if (p->first && n)
                break;
        }
        off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    }
    return n;
}

void ce_parser_list(FILE *out)
{
    fprintf(out, "%-16s %s\n", "default", "every address in the line");
    const char *dirs[3];
    size_t nd = search_dirs(dirs);
    char listed[64][64];
    size_t nlisted = 0;
    for (size_t d = 0; d < nd; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir)
            continue;
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            size_t l = strlen(e->d_name);
            if (l < 8 || l - 7 >= 64 || strcmp(e->d_name + l - 7, ".parser"))
                continue;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(l - 7), e->d_name);
            bool dup = false;
            for (size_t i = 0; i < nlisted; i++)
                dup = dup || !strcmp(listed[i], name);
            if (dup || nlisted == 64)
                continue;
            snprintf(listed[nlisted++], 64, "%s", name);
            char path[4096], line[1024], desc[1024] = "";
            snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
            FILE *f = fopen(path, "r");
            while (f && fgets(line, sizeof line, f)) {
                char *s = ce_str_trim(line);
                if (!strncmp(s, "description", 11)) {
                    char *eq = strchr(s, '=');
                    if (eq)
                        snprintf(desc, sizeof desc, "%s", ce_str_trim(eq + 1));
                    break;
                }
            }
            if (f)
                fclose(f);
            fprintf(out, "%-16s %s\n", name, desc);
        }
        closedir(dir);
    }
}
