/* A tiny printf: %s %c %d %u %x %X %p %%, the '0' and '-' flags, a width,
 * and the 'll' length (64-bit) for d, u and x. Nothing else, no floats. */
#ifndef PROBE_FORMAT_H
#define PROBE_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

typedef void (*format_sink)(char c, void *context);

void format_v(format_sink sink, void *context, const char *format, va_list arguments);

/* Writes at most size - 1 characters and a terminating zero; returns the
 * length written (output that does not fit is dropped). */
size_t format_string(char *buffer, size_t size, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

/* Formats onto the console (the UART). */
void console_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));
void console_vprintf(const char *format, va_list arguments);

#endif
