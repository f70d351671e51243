/* Allocation wrappers that exit on failure, OpenBSD-style. */
#ifndef TP_MEM_H
#define TP_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
