/*
 * mem.h - giving freed memory back to the kernel.
 *
 * glibc keeps the heap pages of freed memory mapped and dirty: parsing a
 * configuration of 10,000 checks or a read-back of all of them would stay
 * in ostiary's Private_Dirty for good.  Call this after such a burst of
 * short-lived allocations, never on a hot path.
 */
#ifndef OSTIARY_MEM_H
#define OSTIARY_MEM_H

#ifdef __GLIBC__
#include <malloc.h>
#endif

static inline void
mem_give_back(void)
{
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

#endif
