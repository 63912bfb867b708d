/* input.h: reads a file or stdin, decompressing gzip transparently.
 *
 * Ownership: ce_input_open returns a reader the caller frees with
 * ce_input_close (accepts NULL); it closes the descriptor unless it is stdin. */
#ifndef CE_INPUT_H
#define CE_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ce_input;

/* Opens path ("-" means stdin). Nothing is read yet: compression is detected
 * from the magic bytes on the first ce_input_read. Returns NULL with a message
 * naming the file in err on failure. */
struct ce_input *ce_input_open(const char *path, char *err, size_t errlen);

/* Reads up to cap bytes of content (decompressed if gzip, several members in
 * a row allowed). Returns the number of bytes (> 0), 0 at a clean end, or -1
 * on an error (a read error, a truncated or corrupt gzip stream); then
 * ce_input_error says what, naming the file. Data decoded before the damage
 * is returned by earlier calls first. It reads the descriptor at most once per
 * call, so after poll() said readable it does not block. */
ssize_t ce_input_read(struct ce_input *in, char *buf, size_t cap);

/* The descriptor to poll for readability. */
int ce_input_fd(const struct ce_input *in);
/* True when the descriptor refers to a regular file (reads never block). */
bool ce_input_is_regular(const struct ce_input *in);
/* True when bytes already read from the descriptor are waiting to be decoded,
 * so that ce_input_read can return data without touching the descriptor. */
bool ce_input_buffered(const struct ce_input *in);
/* True when the content was detected as gzip. */
bool ce_input_is_gzip(const struct ce_input *in);
const char *ce_input_name(const struct ce_input *in);
const char *ce_input_error(const struct ce_input *in);
void ce_input_close(struct ce_input *in);

#endif
