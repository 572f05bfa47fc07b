/*
 * UTF-8 decoding for the writers that must not pass bytes their readers refuse: the YAML
 * scenario writer (libyaml takes only UTF-8) and the SVG/HTML escaper.
 */
#ifndef RECONPERF_UTF8_H
#define RECONPERF_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the sequence at s (n bytes available, n >= 1) into *cp and returns its length
 * (1..4), or 0 when it is not well-formed UTF-8: a stray continuation byte, an overlong
 * form, a surrogate, past U+10FFFF, or cut short.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* True when the NUL-terminated s is well-formed UTF-8 throughout. */
bool utf8_valid(const char *s);

#endif
