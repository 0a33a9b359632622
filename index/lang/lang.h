/*
 * lang.h
 *      Offline language identification of ticket and article text.
 *
 * A detector compares the character n-gram profile of a text with the
 * language profiles shipped by libexttextcat (one file per language in
 * its data directory) and answers an ISO 639-1 code with a status saying
 * how sure it is.  Text too short to judge, text no profile matches and
 * text where two languages score almost alike all get the configured
 * default language, flagged as such, together with the best guess.
 *
 * Thread-safety: libexttextcat handles keep per-call state and must not
 * be used by two threads at once, so each detector guards its handle
 * with a mutex; tr_lang_detect() may be called from any thread, and a
 * thread that detects a lot should have a detector of its own to avoid
 * waiting on the lock.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_LANG_H
#define TR_LANG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Where Debian installs the libexttextcat profiles. */
#define TR_LANG_DATA_DIR "/usr/share/libexttextcat"

/* The languages used when the options name none. */
#define TR_LANG_DEFAULT_SET "en,de,es,fr,pt,it,nl"

/* Most languages one detector knows. */
#define TR_LANG_MAX 64

struct tr_lang;

struct tr_lang_opts {
    const char *data_dir;       /* profile directory; NULL: the default */
    const char *langs;          /* comma-separated ISO 639-1 codes; NULL:
                                 * TR_LANG_DEFAULT_SET */
    const char *default_lang;   /* answer when unsure; NULL: "en" */
    size_t min_letters;         /* fewer letters is too short; 0: 12 */
    double margin;              /* runner-up must score this much worse
                                 * (relative) for a clear winner;
                                 * 0: 0.015 */
};

enum tr_lang_status {
    TR_LANG_SURE,               /* one language matched */
    TR_LANG_LIKELY,             /* several matched, one clearly best */
    TR_LANG_AMBIGUOUS,          /* the best two are too close */
    TR_LANG_SHORT,              /* too few letters to judge */
    TR_LANG_UNKNOWN             /* no profile matched */
};

struct tr_lang_result {
    char code[8];               /* the answer: detected or the default */
    char guess[8];              /* best-scoring language, "" if none */
    enum tr_lang_status status;
    bool reliable;              /* status is SURE or LIKELY */
};

/*
 * Create a detector.  `o` may be NULL for all defaults.  Each language
 * code must have a profile "<code>.lm" in the data directory.  On
 * success *out is owned by the caller, freed with tr_lang_free().
 * Returns TR_E_INVAL for a malformed language list, a code of more than
 * seven bytes or more than TR_LANG_MAX codes, TR_E_NOTFOUND naming a
 * missing profile, TR_E_IO when libexttextcat cannot load them,
 * TR_E_NOMEM.  Call from one thread; the detector is then shared.
 */
enum tr_err tr_lang_new(const struct tr_lang_opts *o, struct tr_lang **out,
                        struct tr_error *err);

/*
 * Identify the language of `len` bytes of UTF-8 `text` (need not be
 * NUL-terminated; only the first 4 KiB are looked at).  Fills `res`.
 * Never fails on content: empty or odd input gives TR_LANG_SHORT or
 * TR_LANG_UNKNOWN with the default code.  Returns TR_E_NOMEM only.
 * Thread-safe (serialised on the detector's lock).
 */
enum tr_err tr_lang_detect(struct tr_lang *l, const char *text, size_t len,
                           struct tr_lang_result *res,
                           struct tr_error *err);

/*
 * Short name of a status ("sure", "likely", "ambiguous", "short",
 * "unknown"), static.
 */
const char *tr_lang_status_name(enum tr_lang_status status);

/*
 * Free a detector.  NULL is a no-op.  No other thread may be using it.
 */
void tr_lang_free(struct tr_lang *l);

#endif /* TR_LANG_H */
