/*
 * annotate.h - ThreadSanitizer happens-before annotations at the boundary
 * between dlreg and code TSan cannot see.
 *
 * Concurrency Kit is not TSan-instrumented and ck_pr uses inline assembly,
 * so TSan sees neither ck_hs's publication of an object nor ck_epoch's grace
 * periods, and glibc's loader lock (which orders a dlclose() before the next
 * dlopen() of the same object) is invisible to it too.  We state those edges
 * explicitly, and only those:
 *
 *   1. release(obj) before an object is published with ck_hs_put;
 *   2. acquire(obj) after ck_hs_get returns it (and in the compare callback,
 *      which reads the object before ck_hs_get returns);
 *   3. release(&reg->grace) before every ck_epoch_end, and acquire(&reg->grace)
 *      before a retired object is released: the grace period orders every
 *      reader's last access before the free;
 *   4. glibc's loader lock orders every dlopen/dlclose/dlsym (the loader
 *      allocates in one call and frees in another, on other threads): TSan
 *      builds take a recursive stand-in mutex (registry.c: dl_order) just
 *      outside it, around each of those calls;
 *   5. release(record) before ck_epoch_unregister, acquire(record) after
 *      ck_epoch_recycle hands a reader record to a new thread.
 *
 * Everywhere else TSan sees the real C11 atomics.  Outside TSan builds every
 * macro is a no-op and the stand-in mutex does not exist.
 */
#ifndef DLREG_ANNOTATE_H
#define DLREG_ANNOTATE_H

#if defined(__SANITIZE_THREAD__)
#define DLREG_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DLREG_TSAN 1
#endif
#endif

#ifdef DLREG_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define dlreg_ann_acquire(p) __tsan_acquire((void *)(p))
#define dlreg_ann_release(p) __tsan_release((void *)(p))
#else
#define dlreg_ann_acquire(p) ((void)(p))
#define dlreg_ann_release(p) ((void)(p))
#endif

#endif
