/* The few libc string functions the probe needs (gcc may also call memset and
 * memcpy on its own for struct copies, so those names are fixed). */
#ifndef PROBE_STRING_H
#define PROBE_STRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memset(void *destination, int value, size_t length);
void *memcpy(void *destination, const void *source, size_t length);
int memcmp(const void *left, const void *right, size_t length);
size_t strnlen(const char *text, size_t limit);

/* True if the word [word, word + length) equals the zero-terminated text. */
bool word_equals(const char *word, size_t length, const char *text);

/* Parses a decimal or 0x-prefixed hexadecimal number that fills all of
 * [text, text + length). False on anything else, or on overflow. */
bool parse_u32(const char *text, size_t length, uint32_t *value);

#endif
