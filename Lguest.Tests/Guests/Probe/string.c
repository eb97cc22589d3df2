#include "string.h"

void *memset(void *destination, int value, size_t length)
{
	uint8_t *d = destination;
	while (length--)
		*d++ = (uint8_t)value;
	return destination;
}

void *memcpy(void *destination, const void *source, size_t length)
{
	uint8_t *d = destination;
	const uint8_t *s = source;
	while (length--)
		*d++ = *s++;
	return destination;
}

int memcmp(const void *left, const void *right, size_t length)
{
	const uint8_t *l = left, *r = right;
	for (; length; length--, l++, r++)
		if (*l != *r)
			return *l < *r ? -1 : 1;
	return 0;
}

size_t strnlen(const char *text, size_t limit)
{
	size_t n = 0;
	while (n < limit && text[n])
		n++;
	return n;
}

bool word_equals(const char *word, size_t length, const char *text)
{
	size_t i;
	for (i = 0; i < length; i++)
		if (text[i] != word[i])
			return false;
	return text[length] == '\0';
}

bool parse_u32(const char *text, size_t length, uint32_t *value)
{
	uint32_t base = 10, result = 0;
	size_t i = 0;

	if (length > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == length)
		return false;
	for (; i < length; i++) {
		char c = text[i];
		uint32_t digit;
		if (c >= '0' && c <= '9')
			digit = (uint32_t)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			digit = (uint32_t)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			digit = (uint32_t)(c - 'A' + 10);
		else
			return false;
		if (result > (0xffffffffu - digit) / base)
			return false;
		result = result * base + digit;
	}
	*value = result;
	return true;
}
