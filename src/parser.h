/* parser.h: named log-format parsers, which restrict the lookup to the
 * address that matters in a line (the client of an access log, the SRC= of
 * a firewall line, ...). A parser is a small text file in parsers/:
 *
 *   description = client of an Apache or nginx access log
 *   pattern = ^(?<ip>[^ ]+)
 *   take = all | first
 *
 * The PCRE2 pattern's group "ip" marks the spans where addresses are looked
 * for (every match of the pattern in the line); "take = first" keeps only the
 * first public address found (the original client of an X-Forwarded-For
 * list).
 *
 * Ownership: ce_parser_load returns a parser freed by ce_parser_destroy
 * (accepts NULL); it borrows the extractor passed to ce_parser_extract. */
#ifndef CE_PARSER_H
#define CE_PARSER_H

#include <stdio.h>

#include "extract.h"

struct ce_parser;

/* Loads a parser by name (looked up in $CTI_PARSERS_DIR, then the installed
 * and the source parsers/ folders) or by path (a name with a '/'). "default"
 * gives NULL with no error: every address of the line. Returns NULL and a
 * message in err on failure. */
struct ce_parser *ce_parser_load(const char *name, char *err, size_t errlen);
void ce_parser_destroy(struct ce_parser *p);

/* As ce_extract_line, within the parser's spans; p NULL means the whole
 * line. */
size_t ce_parser_extract(const struct ce_parser *p, struct ce_extractor *x, const char *line,
                         size_t len, struct ce_addr *out, size_t max);

/* Writes "name  description" lines for every parser found. */
void ce_parser_list(FILE *out);

#endif
