/* Command-line options: whitespace-separated words "probe.KEY=VALUE".
 * Other words (a test may pass anything) are ignored. The last word for a
 * key wins, as with kernel parameters. */
#include "probe.h"
#include "string.h"

#define OPTION_PREFIX "probe."
#define OPTION_PREFIX_LENGTH 6

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool option_find(const char *key, const char **value, uint32_t *length)
{
	const char *p = boot.cmdline;
	uint32_t key_length = strnlen(key, 64);
	bool found = false;

	while (*p) {
		const char *word;
		uint32_t n = 0;

		while (is_space(*p))
			p++;
		word = p;
		while (p[0] && !is_space(p[0]))
			p++;
		n = (uint32_t)(p - word);
		if (n > OPTION_PREFIX_LENGTH + key_length &&
		    memcmp(word, OPTION_PREFIX, OPTION_PREFIX_LENGTH) == 0 &&
		    memcmp(word + OPTION_PREFIX_LENGTH, key, key_length) == 0 &&
		    word[OPTION_PREFIX_LENGTH + key_length] == '=') {
			*value = word + OPTION_PREFIX_LENGTH + key_length + 1;
			*length = n - OPTION_PREFIX_LENGTH - key_length - 1;
			found = true;
		}
	}
	return found;
}

uint32_t option_u32(const char *key, uint32_t fallback, uint32_t minimum, uint32_t maximum)
{
	const char *value;
	uint32_t length, number;

	if (!option_find(key, &value, &length) || !parse_u32(value, length, &number))
		return fallback;
	if (number < minimum)
		return minimum;
	return number > maximum ? maximum : number;
}

bool option_list_contains(const char *key, const char *name)
{
	const char *value;
	uint32_t length, start = 0, i;

	if (!option_find(key, &value, &length))
		return false;
	for (i = 0; i <= length; i++) {
		if (i == length || value[i] == ',') {
			if (word_equals(value + start, i - start, name))
				return true;
			start = i + 1;
		}
	}
	return false;
}
