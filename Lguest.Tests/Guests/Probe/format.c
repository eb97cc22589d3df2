#include <stdbool.h>
#include <stdint.h>

#include "format.h"
#include "uart.h"

/* 64-bit division by 10 without libgcc's __udivdi3 (we link no libgcc). */
static uint64_t divide_by_10(uint64_t value, uint32_t *remainder)
{
	uint64_t quotient = 0;
	uint32_t rest = 0;
	int bit;
	for (bit = 63; bit >= 0; bit--) {
		rest = (rest << 1) | (uint32_t)((value >> bit) & 1);
		if (rest >= 10) {
			rest -= 10;
			quotient |= (uint64_t)1 << bit;
		}
	}
	*remainder = rest;
	return quotient;
}

static void emit_number(format_sink sink, void *context, uint64_t value, uint32_t base,
			bool upper, bool negative, int width, char pad, bool left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char text[24];
	int n = 0, i;

	do {
		uint32_t digit;
		if (base == 16) {
			digit = (uint32_t)(value & 15);
			value >>= 4;
		} else if (value >> 32) {
			value = divide_by_10(value, &digit);
		} else {
			digit = (uint32_t)value % 10;
			value = (uint32_t)value / 10;
		}
		text[n++] = digits[digit];
	} while (value);
	if (negative)
		width--;
	if (negative && pad == '0')
		sink('-', context);
	if (!left)
		for (i = n; i < width; i++)
			sink(pad, context);
	if (negative && pad != '0')
		sink('-', context);
	while (n)
		sink(text[--n], context);
	if (left)
		for (i = n; i < width; i++)
			sink(' ', context);
}

void format_v(format_sink sink, void *context, const char *format, va_list arguments)
{
	for (; *format; format++) {
		char pad = ' ';
		bool left = false, wide = false;
		int width = 0;

		if (*format != '%') {
			sink(*format, context);
			continue;
		}
		format++;
		for (;; format++) {
			if (*format == '0')
				pad = '0';
			else if (*format == '-')
				left = true;
			else
				break;
		}
		while (*format >= '0' && *format <= '9')
			width = width * 10 + (*format++ - '0');
		while (*format == 'l') {
			wide = format[1] == 'l' || wide;
			format++;
		}
		switch (*format) {
		case 'd': {
			int64_t v = wide ? va_arg(arguments, int64_t) : va_arg(arguments, int32_t);
			uint64_t magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			emit_number(sink, context, magnitude, 10, false, v < 0, width, pad, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = wide ? va_arg(arguments, uint64_t) : va_arg(arguments, uint32_t);
			emit_number(sink, context, v, *format == 'u' ? 10 : 16, *format == 'X', false,
				    width, pad, left);
			break;
		}
		case 'p':
			sink('0', context);
			sink('x', context);
			emit_number(sink, context, (uintptr_t)va_arg(arguments, void *), 16, false,
				    false, 8, '0', false);
			break;
		case 'c':
			sink((char)va_arg(arguments, int), context);
			break;
		case 's': {
			const char *s = va_arg(arguments, const char *);
			int n = 0;
			if (!s)
				s = "(null)";
			for (; s[n]; n++)
				;
			for (; !left && n < width; width--)
				sink(' ', context);
			for (; *s; s++)
				sink(*s, context);
			for (; left && n < width; n++)
				sink(' ', context);
			break;
		}
		case '%':
			sink('%', context);
			break;
		case '\0':
			return;
		default:
			sink('%', context);
			sink(*format, context);
			break;
		}
	}
}

struct string_sink {
	char *buffer;
	size_t size;
	size_t length;
};

static void put_string(char c, void *context)
{
	struct string_sink *s = context;
	if (s->length + 1 < s->size)
		s->buffer[s->length++] = c;
}

size_t format_string(char *buffer, size_t size, const char *format, ...)
{
	struct string_sink s = { buffer, size, 0 };
	va_list arguments;
	va_start(arguments, format);
	format_v(put_string, &s, format, arguments);
	va_end(arguments);
	if (size)
		buffer[s.length] = '\0';
	return s.length;
}

static void put_console(char c, void *context)
{
	(void)context;
	if (c == '\n')
		uart_putc('\r');
	uart_putc(c);
}

void console_vprintf(const char *format, va_list arguments)
{
	format_v(put_console, 0, format, arguments);
}

void console_printf(const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	console_vprintf(format, arguments);
	va_end(arguments);
}
