/*
 * draft_words.c
 *      Word normalisation for drafting and grounding: accent folding,
 *      stopwords, light stemming, numbers, negation cues, and the cutting
 *      of passage text into sentences and list items.
 *
 * The normalisation is deliberately light and the same for every
 * language it knows (en, de, es, fr, pt, it, nl): the drafter and the
 * grounding check only compare texts with each other, so a crude stem
 * applied to both sides is enough, and a word list per language would
 * cost more to keep right than it gains.  Negation cues are the one
 * place where languages clash ("no" negates in Spanish but means "in
 * the" in Portuguese), so they are looked up by language.
 *
 * Pure functions on the caller's buffers; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "draft_int.h"
#include "text.h"

/* Longest word that is normalised; the rest of a longer one is cut. */
#define WORD_MAX 64

/* FNV-1a offsets; numbers use another one so "3" the word and 3 the
 * number never meet. */
#define HASH_TERM 0xcbf29ce484222325ULL
#define HASH_NUM 0x84222325cbf29ce4ULL

/*
 * Function words of the supported languages, accent-folded.  Negation
 * cues are not listed: they are never content words.
 */
static const char *const stopwords[] = {
    /* en */
    "the", "an", "and", "or", "but", "if", "then", "than", "so", "to",
    "of", "in", "on", "at", "by", "for", "with", "from", "into", "about",
    "as", "is", "are", "was", "were", "be", "been", "being", "am", "do",
    "does", "did", "have", "has", "had", "it", "its", "this", "that",
    "these", "those", "there", "here", "you", "your", "yours", "we", "our",
    "us", "me", "my", "he", "she", "they", "them", "their", "his", "her",
    "what", "which", "who", "when", "where", "why", "how", "all", "any",
    "each", "some", "such", "only", "own", "same", "too", "very", "can",
    "will", "just", "should", "would", "could", "may", "might", "must",
    "also", "please", "via", "per", "up", "out", "once", "again", "hi",
    "hello", "thanks", "thank",
    /* de */
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen",
    "einem", "einer", "eines", "und", "oder", "aber", "wenn", "dann",
    "als", "zu", "von", "vom", "zum", "zur", "im", "an", "auf", "aus",
    "bei", "mit", "nach", "fur", "uber", "unter", "um", "bis", "durch",
    "ist", "sind", "war", "waren", "sein", "bin", "bist", "hat", "haben",
    "hatte", "wird", "werden", "wurde", "kann", "konnen", "muss",
    "mussen", "soll", "sollen", "es", "er", "sie", "wir", "ihr", "ich",
    "du", "mich", "mir", "dich", "dir", "sich", "ihnen", "ihre", "ihren",
    "ihrem", "seine", "unser", "unsere", "diese", "dieser", "dieses",
    "diesem", "auch", "nur", "noch", "schon", "bitte", "hier", "dort",
    "wie", "was", "wer", "wo", "warum", "dass", "da", "hallo", "danke",
    /* fr */
    "le", "la", "les", "un", "une", "du", "de", "et", "ou", "mais", "si",
    "alors", "que", "qu", "qui", "quoi", "dont", "au", "aux", "en",
    "dans", "sur", "sous", "par", "pour", "avec", "est", "sont", "etait",
    "etre", "avoir", "ont", "ce", "cet", "cette", "ces", "il", "elle",
    "ils", "elles", "nous", "vous", "votre", "vos", "notre", "nos", "je",
    "te", "se", "son", "sa", "ses", "leur", "leurs", "lui", "puis",
    "aussi", "tres", "plus", "ici", "comme", "bonjour", "merci",
    /* es */
    "el", "los", "las", "lo", "una", "unos", "unas", "pero", "del", "al",
    "con", "por", "para", "sobre", "son", "era", "ser", "estar", "esta",
    "este", "esto", "estos", "estas", "ese", "esa", "su", "sus", "tu",
    "tus", "mi", "mis", "usted", "ustedes", "le", "nos", "como",
    "cuando", "donde", "muy", "tambien", "ya", "hay", "hola", "gracias",
    /* pt */
    "os", "as", "um", "uma", "uns", "umas", "mas", "do", "da", "dos",
    "das", "na", "nas", "ao", "aos", "em", "com", "pelo", "pela", "sao",
    "isso", "isto", "seu", "sua", "seus", "suas", "voce", "voces", "meu",
    "minha", "nosso", "nossa", "quando", "onde", "muito", "ja", "ola",
    "obrigado", "no", "nos",
    /* it */
    "il", "lo", "gli", "uno", "ma", "che", "di", "della", "dei", "degli",
    "delle", "dal", "dalla", "nel", "nella", "tra", "fra", "sono",
    "essere", "avere", "ha", "hanno", "questo", "questa", "questi",
    "queste", "quello", "quella", "suo", "sua", "suoi", "sue", "tuo",
    "tua", "vostro", "vostra", "nostro", "nostra", "lei", "voi", "noi",
    "io", "ti", "ci", "anche", "gia", "qui", "buongiorno", "grazie",
    /* nl */
    "het", "een", "en", "maar", "als", "dat", "dit", "deze", "van",
    "voor", "met", "op", "aan", "bij", "uit", "naar", "over", "onder",
    "om", "tot", "zijn", "wordt", "worden", "werd", "kunnen", "moet",
    "moeten", "zal", "zullen", "heeft", "hebben", "je", "jij", "uw",
    "wij", "ons", "onze", "hij", "zij", "ze", "hun", "haar", "zich",
    "er", "daar", "hoe", "wat", "wie", "waar", "waarom", "ook", "nog",
    "al", "wel", "bedankt",
};

/* Negation cues by language, accent-folded; "t" is English n't. */
static const struct {
    const char *lang;
    const char *const *cues;
} negations[] = {
    {"en", (const char *const[]){"not", "no", "never", "cannot", "t",
                                 "none", "nothing", "neither", "nor",
                                 "without", NULL}},
    {"de", (const char *const[]){"nicht", "kein", "keine", "keinen",
                                 "keinem", "keiner", "keines", "nie",
                                 "niemals", "nichts", "ohne", NULL}},
    {"fr", (const char *const[]){"ne", "n", "pas", "jamais", "aucun",
                                 "aucune", "sans", "rien", "non", NULL}},
    {"es", (const char *const[]){"no", "nunca", "jamas", "ningun",
                                 "ninguna", "ninguno", "sin", "nada",
                                 "tampoco", "ni", NULL}},
    {"pt", (const char *const[]){"nao", "nunca", "jamais", "nenhum",
                                 "nenhuma", "sem", "nada", "nem", NULL}},
    {"it", (const char *const[]){"non", "mai", "nessun", "nessuno",
                                 "nessuna", "senza", "niente", "nulla",
                                 "ne", NULL}},
    {"nl", (const char *const[]){"niet", "geen", "nooit", "zonder",
                                 "niets", "nergens", NULL}},
};

/* Suffixes stripped by the stemmer, longest first. */
static const char *const suffixes[] = {
    "ements", "ations", "ement", "ation", "ungen", "ingen", "mente",
    "ness", "ings", "heit", "keit", "ung", "ing", "ies", "ied", "ed",
    "es", "er", "en", "ly", "s", "e",
};

/* Bytes a stem keeps at least. */
#define STEM_MIN 3

#define N_STOPWORDS (sizeof(stopwords) / sizeof(stopwords[0]))

/*
 * The stop words in byte order, for bisection: every word of every
 * passage and draft sentence is looked up, so a linear scan of the
 * hundreds of words of all languages was the drafter's hottest loop.
 * Sorted once per process; the table in the source stays grouped by
 * language for its readers.
 */
static const char *stop_sorted[N_STOPWORDS];
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
stop_sort(void)
{
    memcpy(stop_sorted, stopwords, sizeof(stopwords));
    qsort(stop_sorted, N_STOPWORDS, sizeof(stop_sorted[0]), cmp_str);
}

/* True when the folded word `w` is a stop word of any language. */
static bool
is_stopword(const char *w)
{
    pthread_once(&stop_once, stop_sort);
    return bsearch(&w, stop_sorted, N_STOPWORDS, sizeof(stop_sorted[0]),
                   cmp_str) != NULL;
}

/*
 * True when `w` (folded) is a negation cue of `lang`.  Unknown or
 * missing languages take every list: missing a cue would let a flipped
 * statement through, while an extra cue only sends a draft to review.
 */
static bool
is_negation(const char *w, const char *lang)
{
    size_t n = sizeof(negations) / sizeof(negations[0]);
    bool known = false;

    /* With a known language only its cues count; otherwise all do. */
    for (size_t i = 0; i < n; i++)
        if (lang != NULL && strcmp(negations[i].lang, lang) == 0)
            known = true;

    for (size_t i = 0; i < n; i++) {
        if (known && strcmp(negations[i].lang, lang) != 0)
            continue;
        for (const char *const *c = negations[i].cues; *c != NULL; c++)
            if (strcmp(*c, w) == 0)
                return true;
    }
    return false;
}

/*
 * Fold one lowercase code point of Latin-1 or Latin Extended-A to its
 * ASCII base letters; NULL when it has none.
 */
static const char *
fold_cp(unsigned cp)
{
    static const struct {
        unsigned lo, hi;
        const char *to;
    } map[] = {
        {0xDF, 0xDF, "ss"}, {0xE0, 0xE5, "a"}, {0xE6, 0xE6, "ae"},
        {0xE7, 0xE7, "c"}, {0xE8, 0xEB, "e"}, {0xEC, 0xEF, "i"},
        {0xF0, 0xF0, "d"}, {0xF1, 0xF1, "n"}, {0xF2, 0xF6, "o"},
        {0xF8, 0xF8, "o"}, {0xF9, 0xFC, "u"}, {0xFD, 0xFD, "y"},
        {0xFE, 0xFE, "th"}, {0xFF, 0xFF, "y"}, {0x100, 0x105, "a"},
        {0x106, 0x10D, "c"}, {0x10E, 0x111, "d"}, {0x112, 0x11B, "e"},
        {0x11C, 0x123, "g"}, {0x124, 0x127, "h"}, {0x128, 0x131, "i"},
        {0x132, 0x133, "ij"}, {0x134, 0x135, "j"}, {0x136, 0x138, "k"},
        {0x139, 0x142, "l"}, {0x143, 0x14B, "n"}, {0x14C, 0x151, "o"},
        {0x152, 0x153, "oe"}, {0x154, 0x159, "r"}, {0x15A, 0x161, "s"},
        {0x162, 0x167, "t"}, {0x168, 0x173, "u"}, {0x174, 0x175, "w"},
        {0x176, 0x178, "y"}, {0x179, 0x17E, "z"},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (cp >= map[i].lo && cp <= map[i].hi)
            return map[i].to;
    return NULL;
}

/*
 * Lowercase and fold `len` bytes of the word `w` into `out` (WORD_MAX
 * bytes with the terminator); other characters are copied.  Returns
 * the length written.
 */
static size_t
fold_word(const char *w, size_t len, char *out)
{
    char low[WORD_MAX];
    size_t n = 0;

    if (len > sizeof(low))
        len = sizeof(low);
    tr_text_lower(w, len, low);

    for (size_t i = 0; i < len && n < WORD_MAX - 1;) {
        unsigned char c = (unsigned char)low[i];
        const char *to = NULL;

        /* Two-byte sequences cover every code point folded here. */
        if ((c == 0xC3 || c == 0xC4 || c == 0xC5) && i + 1 < len)
            to = fold_cp(((c & 0x1Fu) << 6)
                         | ((unsigned char)low[i + 1] & 0x3Fu));
        if (to != NULL) {
            for (; *to != '\0' && n < WORD_MAX - 1; to++)
                out[n++] = *to;
            i += 2;
        } else {
            out[n++] = low[i++];
        }
    }
    out[n] = '\0';
    return n;
}

/* Strip the longest listed suffix that leaves STEM_MIN bytes. */
static size_t
stem(char *w, size_t len)
{
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t sl = strlen(suffixes[i]);

        if (len >= sl + STEM_MIN
            && memcmp(w + len - sl, suffixes[i], sl) == 0) {
            len -= sl;
            w[len] = '\0';
            break;
        }
    }
    return len;
}

/* FNV-1a over `len` bytes from the offset `h`. */
static uint64_t
hash(uint64_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Doubling growth; the vectors live for one call only. */
enum tr_err
tr_draft__hvec_push(struct tr_draft__hvec *h, uint64_t x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        uint64_t *v = realloc(h->v, cap * sizeof(*v));

        if (v == NULL)
            return TR_E_NOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = x;
    return TR_OK;
}

/* qsort order of hashes. */
static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

void
tr_draft__hvec_sort(struct tr_draft__hvec *h)
{
    if (h->n > 1)
        qsort(h->v, h->n, sizeof(*h->v), cmp_u64);
}

void
tr_draft__hvec_unique(struct tr_draft__hvec *h)
{
    size_t k = 0;

    if (h->n == 0)
        return;
    tr_draft__hvec_sort(h);
    for (size_t i = 1; i < h->n; i++)
        if (h->v[i] != h->v[k])
            h->v[++k] = h->v[i];
    h->n = k + 1;
}

bool
tr_draft__hvec_has(const struct tr_draft__hvec *h, uint64_t x)
{
    size_t lo = 0, hi = h->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (h->v[mid] == x)
            return true;
        if (h->v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

size_t
tr_draft__hvec_common(const struct tr_draft__hvec *a,
                      const struct tr_draft__hvec *b)
{
    size_t i = 0, j = 0, n = 0;

    /* A merge walk: both are sorted. */
    while (i < a->n && j < b->n) {
        if (a->v[i] == b->v[j]) {
            n++;
            i++;
            j++;
        } else if (a->v[i] < b->v[j]) {
            i++;
        } else {
            j++;
        }
    }
    return n;
}

void
tr_draft__bag_init(struct tr_draft__bag *b)
{
    memset(b, 0, sizeof(*b));
}

void
tr_draft__bag_cleanup(struct tr_draft__bag *b)
{
    free(b->terms.v);
    free(b->nums.v);
    memset(b, 0, sizeof(*b));
}

struct bag_ctx {
    struct tr_draft__bag *bag;
    const char *lang;
    enum tr_err rc;
};

/* True when the word holds a digit. */
static bool
has_digit(const char *w, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (w[i] >= '0' && w[i] <= '9')
            return true;
    return false;
}

/*
 * Word callback of tr_text_words(): sort each word into the bag as a
 * number-like token, a negation cue, a stopword (dropped) or a stemmed
 * content word.  Stops the walk when memory runs out.
 */
static int
on_word(void *ud, const char *word, size_t word_len, size_t offset)
{
    struct bag_ctx *c = ud;
    char w[WORD_MAX];
    size_t n;

    (void)offset;

    /* Runs of digits are taken by scan_numbers() with their separators;
     * a word mixing letters and digits ("e404") must match exactly. */
    if (has_digit(word, word_len)) {
        bool letters = false;

        for (size_t i = 0; i < word_len; i++)
            if (word[i] < '0' || word[i] > '9')
                letters = true;
        if (!letters)
            return 0;

        /* Error codes and versions ("e404", "v2") are facts too. */
        n = fold_word(word, word_len, w);
        c->rc = tr_draft__hvec_push(&c->bag->nums, hash(HASH_NUM, w, n));
        return c->rc != TR_OK;
    }

    /* A cue is checked before the stopwords: "no" and "not" must never
     * be dropped as function words. */
    n = fold_word(word, word_len, w);
    if (is_negation(w, c->lang)) {
        c->bag->neg = true;
        return 0;
    }
    if (n < 2 || is_stopword(w))
        return 0;

    n = stem(w, n);
    c->rc = tr_draft__hvec_push(&c->bag->terms, hash(HASH_TERM, w, n));
    return c->rc != TR_OK;
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Add every number of `s`: digits with single '.', ',', ':' or '/'
 * between digit groups ("1,5", "14:30", "2024/03"), not touching a
 * letter (those are words).  Spelling is kept, so "1,000" and "1000"
 * differ on purpose: a number must match as written.
 */
static enum tr_err
scan_numbers(struct tr_draft__bag *b, const char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t start = i;

        if (!is_digit(s[i]) || (i > 0 && (is_alpha(s[i - 1])
                                          || is_digit(s[i - 1])))) {
            i++;
            continue;
        }
        while (i < len && is_digit(s[i]))
            i++;
        while (i + 1 < len && strchr(".,:/", s[i]) != NULL
               && is_digit(s[i + 1])) {
            i++;
            while (i < len && is_digit(s[i]))
                i++;
        }
        if (i < len && is_alpha(s[i]))
            continue;
        if (tr_draft__hvec_push(&b->nums, hash(HASH_NUM, s + start,
                                               i - start)) != TR_OK)
            return TR_E_NOMEM;
    }
    return TR_OK;
}

/*
 * Words come from tr_text_words() so that a draft splits text into words
 * exactly as the index does; numbers are scanned separately because the
 * word splitter cuts "1,5" in two.
 */
enum tr_err
tr_draft__bag_add(struct tr_draft__bag *b, const char *s, size_t len,
                  const char *lang)
{
    struct bag_ctx c = {b, lang, TR_OK};

    if (lang != NULL && *lang == '\0')
        c.lang = NULL;
    tr_text_words(s, len, 0, on_word, &c);
    if (c.rc != TR_OK)
        return c.rc;
    return scan_numbers(b, s, len);
}
