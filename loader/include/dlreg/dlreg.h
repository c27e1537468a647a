/*
 * dlreg.h - a shared-library registry with lock-free reads.
 *
 * A registry maps shared objects to referenced handles.  Opening the same
 * object twice (by one path, or by two paths to one file) yields the same
 * entry with one more reference.  The last close retires the entry; its
 * dlclose() and its memory are released only after an RCU grace period, so a
 * reader that found the entry inside a read section may keep using it (and
 * its cached symbols) until the section ends.
 *
 * Thread-safety, in one paragraph: every function may be called from any
 * thread at any time, including from a plugin's constructor or destructor,
 * except where a contract below says otherwise.  Read-side functions
 * (dlreg_read_*) take no lock, make no system call and perform no atomic
 * read-modify-write on shared cache lines when they hit.  Writers (open,
 * close) serialise on one short internal lock that is never held across
 * dlopen(), dlclose(), dlsym(), file I/O or any user callback.  No thread
 * ever waits for another thread's load, so a constructor that calls back into
 * the registry cannot deadlock it.
 */
#ifndef DLREG_DLREG_H
#define DLREG_DLREG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(DLREG_STATIC)
#define DLREG_API __attribute__((visibility("default")))
#else
#define DLREG_API
#endif

/* Errors are values.  0 is success; every other value names one failure. */
enum dlreg_err {
	DLREG_OK = 0,
	DLREG_EINVAL,     /* NULL or empty argument, bad flags or hints */
	DLREG_ENOMEM,     /* allocation failed; nothing changed */
	DLREG_ENOENT,     /* the file does not exist */
	DLREG_EACCES,     /* the file exists but cannot be read */
	DLREG_EISDIR,     /* the path names a directory */
	DLREG_ENOTELF,    /* the file is not an ELF shared object */
	DLREG_EUNDEFINED, /* the object references a symbol nothing defines */
	DLREG_ELOAD,      /* the dynamic loader refused the object (see detail) */
	DLREG_ENOTLOADED, /* read side: no entry for that path */
	DLREG_ENOSYM,     /* the object does not define that symbol */
	DLREG_EDEADLK,    /* the call would wait for itself (e.g. quiesce in a read section) */
	DLREG_EBUSY,      /* destroy: libraries are still referenced */
	DLREG_EIO,        /* an I/O call failed (see detail) */
	DLREG_ETRUNCATED, /* scanner: the file shrank or changed while it was read */
	DLREG_EMALFORMED, /* scanner: the file's structure is inconsistent */
	DLREG_ENOMETA,    /* scanner: the file carries no dlreg metadata */
	DLREG_ETOOBIG,    /* scanner: file or metadata larger than the configured cap */
	DLREG_EREPLACED,  /* the loaded object is not the file that was scanned */
	DLREG_EOVERFLOW,  /* a library already holds the most references it may (2^31 - 1) */
	DLREG_ERR_COUNT_
};

/* Stable English text for an error; never NULL, even for unknown values. */
DLREG_API const char *dlreg_strerror(int err);

/*
 * Detail text of the calling thread's most recent failing dlreg call (for
 * example the dynamic loader's dlerror() text, captured at once).  Paths in
 * it are redacted unless the registry was created with
 * DLREG_CONFIG_FULL_PATHS.  Valid until the same thread's next dlreg call;
 * "" when there is none.  Thread-safe: each thread has its own.  Calls that
 * the failing call's own user code makes (the log sink, a plugin's
 * constructor or destructor) do not replace it.
 */
DLREG_API const char *dlreg_errdetail(void);

enum dlreg_log_level { DLREG_LOG_DEBUG, DLREG_LOG_INFO, DLREG_LOG_WARN, DLREG_LOG_ERROR };

/*
 * Log sink.  Called without any registry lock held, and never inside a read
 * section of the registry's own.  A dlreg_close or failing dlreg_open that
 * the application calls inside its read section logs inside that section:
 * the sink's dlreg_quiesce gets DLREG_EDEADLK there, and a slow sink holds
 * back grace periods as long as the section does.  The sink may call back
 * into the registry, except to destroy it (DLREG_EDEADLK: the call that logs
 * goes on using the registry).  `msg` is
 * valid for the call only.  Paths in `msg` are redacted (basename#hash) unless
 * DLREG_CONFIG_FULL_PATHS is set.
 */
typedef void dlreg_log_fn(void *ctx, enum dlreg_log_level level, const char *msg);

enum dlreg_reclaim {
	/*
	 * Default.  Retired entries are released by whichever thread next calls
	 * open/close/quiesce outside a read section and outside the dynamic
	 * loader; releasing never waits for a grace period (ck_epoch_poll), and
	 * dlreg_quiesce() waits for one.
	 */
	DLREG_RECLAIM_POLL = 0,
	/* A background thread waits for grace periods and releases entries. */
	DLREG_RECLAIM_THREAD = 1,
};

#define DLREG_CONFIG_FULL_PATHS 0x1u /* log and detail text show full paths */

struct dlreg_config {
	dlreg_log_fn *log;          /* NULL: no logging */
	void *log_ctx;
	enum dlreg_log_level log_level; /* messages below this level are dropped */
	enum dlreg_reclaim reclaim;
	unsigned flags;             /* DLREG_CONFIG_* */
};

typedef struct dlreg dlreg_t;
typedef struct dlreg_lib dlreg_lib_t;       /* an entry; a handle is a referenced entry */
typedef struct dlreg_reader dlreg_reader_t; /* a per-thread read-side record */

/*
 * Creates a registry.  `config` may be NULL for defaults (no log, poll
 * reclamation, redacted paths).  Returns DLREG_OK and sets *out, or
 * DLREG_ENOMEM / DLREG_EINVAL.
 */
DLREG_API int dlreg_create(const struct dlreg_config *config, dlreg_t **out);

/*
 * Destroys a registry.  Must not run concurrently with any other call on it
 * (threads that used it may still be exiting: their reader records are safe);
 * DLREG_EDEADLK (nothing done) from inside a read section, the dynamic
 * loader or the log sink.  First releases retired entries as dlreg_quiesce
 * does, with what their destructors retire in turn, however long the chain.
 * Entries still referenced after that are reported (log, WARN) and left
 * loaded and allocated, never unloaded under their users, so their handles
 * keep working with dlreg_sym: then returns DLREG_EBUSY and sets
 * *still_referenced (if non-NULL) to their number.  Entries held only by
 * DLREG_HINT_NODELETE are not reported.  If destructors keep loading the
 * libraries they close (see dlreg_quiesce), destroy gives up the same way:
 * a WARN says so, and the entries still retired then stay loaded and count
 * in *still_referenced and DLREG_EBUSY too.  dlreg never unloads them, as
 * their destructors would call into the registry being destroyed; but like
 * those of any library still loaded, they run when the process exits, when
 * this registry is gone: they must not use it then.  Everything else the
 * registry owns is released.
 */
DLREG_API int dlreg_destroy(dlreg_t *reg, size_t *still_referenced);

/* Open hints; combine with |.  The default (0) is NOW | LOCAL. */
#define DLREG_HINT_LAZY 0x1u     /* RTLD_LAZY instead of RTLD_NOW */
#define DLREG_HINT_GLOBAL 0x2u   /* RTLD_GLOBAL */
#define DLREG_HINT_NODELETE 0x4u /* never unloaded; the entry stays for the process lifetime */
#define DLREG_HINT_DEEPBIND 0x8u /* RTLD_DEEPBIND */
#define DLREG_HINT_ALL_ 0xfu

/*
 * Opens `path` (as dlopen() would resolve it) and returns a handle holding
 * one reference.  If the object is already registered (by this or any other
 * path that reaches the same loaded object) the existing entry gains a
 * reference.  The dynamic loader runs before any registry lock is taken; a
 * constructor in the object may call any dlreg function, including opening
 * its own library (it then gets a valid reference).  Errors: DLREG_EINVAL,
 * DLREG_ENOENT, DLREG_EACCES, DLREG_EISDIR, DLREG_ENOTELF, DLREG_EUNDEFINED,
 * DLREG_ELOAD, DLREG_ENOMEM, DLREG_EOVERFLOW (the entry holds 2^31 - 1
 * references already), each with dlreg_errdetail().
 * An object the loader holds already keeps the binding it was loaded with:
 * a NOW open of an object opened LAZY (by dlreg or by anyone) returns the
 * lazily bound object, as dlopen does, and DEEPBIND does not apply to it.
 * GLOBAL and NODELETE do apply, and are added to the entry's hints.
 * The loader's no-delete cannot be undone, so an open allocates its entry
 * and checks the reference limit before dlopen runs; still, with
 * DLREG_HINT_NODELETE, a DLREG_ENOMEM growing the registry's sets, or a
 * DLREG_EOVERFLOW reached by other threads' opens in the meantime, leaves
 * the object loaded (a later open registers it).
 */
DLREG_API int dlreg_open(dlreg_t *reg, const char *path, unsigned hints, dlreg_lib_t **out);

/*
 * Drops the reference `lib` holds.  The last close removes the entry from the
 * registry (new lookups miss at once) and hands it to reclamation: its
 * dlclose() runs after a grace period, never under a lock, never inside a
 * read section and never from inside the dynamic loader.  Never blocks
 * waiting for readers.  Closing a handle more often than it was opened is
 * undefined behaviour.
 */
DLREG_API int dlreg_close(dlreg_t *reg, dlreg_lib_t *lib);

/*
 * Resolves `name` in a referenced handle.  The first lookup calls dlsym();
 * later ones hit a per-entry lock-free cache.  DLREG_ENOSYM if undefined.
 */
DLREG_API int dlreg_sym(dlreg_lib_t *lib, const char *name, void **sym);

/* Path the entry was first opened by (exact string given to dlreg_open). */
DLREG_API const char *dlreg_lib_path(const dlreg_lib_t *lib);
/* The dlopen() handle; valid while a reference or a read section covers lib. */
DLREG_API void *dlreg_lib_dlhandle(const dlreg_lib_t *lib);
/*
 * Current reference count (a snapshot; 0 once retired).  It counts the
 * reference a NODELETE entry holds on itself: one NODELETE open shows 2.
 */
DLREG_API uint32_t dlreg_lib_refs(const dlreg_lib_t *lib);
/*
 * Effective hints: the hints of the open that created the entry, plus GLOBAL
 * and NODELETE if a later open asked for them (see dlreg_open).  When two
 * threads open a new object at once with different LAZY or DEEPBIND hints,
 * the entry may carry either thread's.
 */
DLREG_API unsigned dlreg_lib_hints(const dlreg_lib_t *lib);

/*
 * Waits for a grace period and releases every entry retired before the call
 * (and waits for releases other threads have in progress), running
 * dlclose() on the calling thread; holds no lock while it waits.  What the
 * released libraries' destructors retire (closing a handle they hold) is
 * released too, round after round, for a chain of any length.  Only
 * destructors that keep loading the libraries they close (A's loads and
 * closes B, B's loads and closes A) could keep that going forever: after 64
 * rounds that did not bring the libraries the registry holds loaded
 * (dlopen_calls - dlclose_calls) below their lowest count so far,
 * dlreg_quiesce returns DLREG_OK and leaves the rest to a later call
 * (dlreg_pending() is then not 0).  Rounds stall that way too while other
 * threads keep opening and closing libraries.
 * DLREG_EDEADLK if called inside a read section or from inside a dlopen() or
 * dlclose() that dlreg made (a constructor or destructor of a library it is
 * loading or unloading): the work is then left to a later call.  dlreg
 * cannot see dlopen() calls made by others: do not call dlreg_quiesce or
 * dlreg_destroy from the constructor of a library loaded with plain
 * dlopen() while other threads may resolve symbols (glibc's loader lock).
 */
DLREG_API int dlreg_quiesce(dlreg_t *reg);

/* Retired entries (and retired index memory) not released yet (a snapshot). */
DLREG_API size_t dlreg_pending(dlreg_t *reg);

/*
 * Read side.  A reader record belongs to one thread.  dlreg_reader_self()
 * returns the calling thread's record for `reg`, creating it on first use;
 * it is recycled when the thread exits.  NULL only on allocation failure.
 * Records may also be managed explicitly with register/unregister (the
 * caller must not be inside a section of that record when unregistering).
 */
DLREG_API dlreg_reader_t *dlreg_reader_self(dlreg_t *reg);
DLREG_API dlreg_reader_t *dlreg_reader_register(dlreg_t *reg);
DLREG_API void dlreg_reader_unregister(dlreg_reader_t *reader);

/*
 * Read sections nest.  Pointers obtained inside a section stay valid until
 * the outermost section ends.  Sections never block and never wait.
 * dlreg_read_end on a record with no section open is a bug that would stall
 * every later grace period: it writes a line on stderr and aborts.
 */
DLREG_API void dlreg_read_begin(dlreg_reader_t *reader);
DLREG_API void dlreg_read_end(dlreg_reader_t *reader);

/*
 * Inside a section: the live entry registered under exactly `path` (the
 * string given to an earlier dlreg_open), or NULL.  No reference is taken.
 */
DLREG_API const dlreg_lib_t *dlreg_read_lookup(dlreg_reader_t *reader, const char *path);

/*
 * Inside a section: cached symbol lookup by (path, name).  A hit takes no
 * lock, makes no system call and performs no atomic read-modify-write.  A
 * miss on the symbol calls dlsym() once and caches the result.  Errors:
 * DLREG_ENOTLOADED (no live entry for path), DLREG_ENOSYM, DLREG_EINVAL.
 * *sym is valid until the section ends (the object may be unloaded after).
 */
DLREG_API int dlreg_read_sym(dlreg_reader_t *reader, const char *path, const char *name, void **sym);

/*
 * Inside a section: turns a looked-up entry into a handle with its own
 * reference (for use after the section).  DLREG_ENOTLOADED if the entry was
 * retired meanwhile; a retired entry is never resurrected.  DLREG_EOVERFLOW
 * if it holds 2^31 - 1 references already.  DLREG_EINVAL if the entry
 * belongs to another registry than the reader's (or to a destroyed one).
 */
DLREG_API int dlreg_lib_acquire(dlreg_reader_t *reader, const dlreg_lib_t *lib, dlreg_lib_t **out);

/*
 * Counters for tests and storms (each a snapshot; sym_misses sums the live
 * entries' counts under the writer lock, the others are read without it).
 * dlopen_calls - dlclose_calls is the number of glibc references the
 * registry holds right now; after dlreg_quiesce() with no live entries it
 * is 0, or every dlopen was matched by a dlclose.
 */
struct dlreg_stats {
	uint64_t opens;          /* references taken: dlreg_open, dlreg_lib_acquire */
	uint64_t closes;         /* successful dlreg_close calls */
	uint64_t dlopen_calls;   /* successful dlopen() calls made */
	uint64_t dlclose_calls;  /* dlclose() calls made */
	uint64_t live;           /* entries in the registry */
	uint64_t retired;        /* entries retired (last close) */
	uint64_t released;       /* retired entries whose grace period ended */
	uint64_t sym_misses;     /* dlsym() calls made by the symbol cache */
};
DLREG_API void dlreg_stats(dlreg_t *reg, struct dlreg_stats *out);

/*
 * Poison check for torture tests.  Released entries are overwritten with a
 * poison pattern before their memory is freed; a reader that still holds
 * one (which the protocol forbids) sees DLREG_EINVAL here instead of
 * DLREG_OK.  Valid inside a read section or while holding a reference.
 */
DLREG_API int dlreg_lib_check(const dlreg_lib_t *lib);

#ifdef __cplusplus
}
#endif

#endif /* DLREG_DLREG_H */
