/*
 * draft.c
 *      The draft record: building, freeing, sources, the per-language
 *      templates and rendering as plain text and as JSON.
 *
 * A draft owns copies of every string in it.  Its sources are derived
 * from the sentences' citations and the passages of the call that made
 * or checked it, so that a stored draft can be read without the index
 * it came from.  Rendering never changes the draft.
 *
 * Any thread, one draft at a time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "draft_int.h"

/*
 * Fixed texts per language.  The intro and closing say nothing about
 * the matter at hand, which is why they may be exempt from grounding.
 */
static const struct tr_draft__tmpl templates[] = {
    {"en", "Hello,",
     "Thank you for contacting us. The following should help.",
     "If anything is still unclear, just reply to this message.",
     "Best regards", "Related articles:"},
    {"de", "Hallo,",
     "vielen Dank für Ihre Nachricht. Folgendes sollte Ihnen "
     "weiterhelfen.",
     "Falls noch etwas unklar ist, antworten Sie einfach auf diese "
     "Nachricht.",
     "Viele Grüße", "Passende Artikel:"},
    {"fr", "Bonjour,",
     "Merci de nous avoir contactés. Voici ce qui devrait vous aider.",
     "Si quelque chose reste à éclaircir, répondez simplement à ce "
     "message.",
     "Cordialement", "Articles utiles :"},
    {"es", "Hola,",
     "Gracias por ponerse en contacto con nosotros. Esto debería "
     "ayudarle.",
     "Si algo queda por aclarar, responda a este mensaje.",
     "Saludos cordiales", "Artículos relacionados:"},
    {"pt", "Olá,",
     "Obrigado por entrar em contato. As informações abaixo devem "
     "ajudar.",
     "Se algo ainda estiver confuso, basta responder a esta mensagem.",
     "Atenciosamente", "Artigos relacionados:"},
    {"it", "Buongiorno,",
     "Grazie per averci contattato. Le indicazioni seguenti dovrebbero "
     "esserle utili.",
     "Se qualcosa resta da chiarire, risponda pure a questo messaggio.",
     "Cordiali saluti", "Articoli correlati:"},
    {"nl", "Hallo,",
     "Bedankt voor uw bericht. Het volgende zou u moeten helpen.",
     "Is er nog iets onduidelijk, beantwoord dan gewoon dit bericht.",
     "Met vriendelijke groet", "Gerelateerde artikelen:"},
};

/*
 * The caps keep a reply readable in an e-mail client (a screenful) and
 * the BM25 constants are the usual ones; nothing here was tuned on data.
 */
void
tr_draft_extractive_opts_default(struct tr_draft_extractive_opts *o)
{
    o->max_passages = 3;
    o->max_sentences = 8;
    o->max_chars = 1200;
    o->max_steps = 10;
    o->k1 = 1.2;
    o->b = 0.75;
}

/*
 * 0.6 lets a sentence that rewords a few words of its source pass while
 * one that adds a claim of its own does not; numbers and negation are
 * checked by default because coverage is blind to them.
 */
void
tr_draft_ground_opts_default(struct tr_draft_ground_opts *o)
{
    o->min_coverage = 0.6;
    o->numbers_exact = true;
    o->check_negation = true;
}

/*
 * Locales come as "de", "de-DE", "de_de" or "pt-br" from Zendesk and
 * file imports alike; only the language part decides the templates.
 */
void
tr_draft__lang_primary(const char *lang, char *out)
{
    size_t n = 0;

    for (; lang != NULL && lang[n] != '\0' && lang[n] != '-'
           && lang[n] != '_' && n < TR_DRAFT_LANG_MAX - 1; n++)
        out[n] = (char)tolower((unsigned char)lang[n]);
    out[n] = '\0';
}

const struct tr_draft__tmpl *
tr_draft__tmpl_find(const char *lang)
{
    for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
        if (lang != NULL && strcmp(templates[i].lang, lang) == 0)
            return &templates[i];
    return &templates[0];
}

enum tr_err
tr_draft_new(const char *lang, struct tr_draft **out, struct tr_error *err)
{
    struct tr_draft *d;

    *out = NULL;
    if (lang == NULL || *lang == '\0')
        lang = "en";
    if (strlen(lang) >= TR_DRAFT_LANG_MAX)
        return TR_ERROR(err, TR_E_INVAL,
                        "language code \"%.32s\" is too long", lang);

    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    memcpy(d->lang, lang, strlen(lang) + 1);
    *out = d;
    return TR_OK;
}

/* Free every source; the array is rebuilt whole when it changes. */
static void
sources_clear(struct tr_draft *d)
{
    for (size_t i = 0; i < d->n_sources; i++) {
        free(d->sources[i].id);
        free(d->sources[i].title);
        free(d->sources[i].url);
    }
    free(d->sources);
    d->sources = NULL;
    d->n_sources = 0;
}

/* Free what one sentence owns; safe on a half-built sentence. */
static void
sentence_free(struct tr_draft_sentence *s)
{
    for (size_t i = 0; i < s->n_cites; i++)
        free(s->cites[i]);
    free(s->cites);
    free(s->text);
}

void
tr_draft_free(struct tr_draft *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n_sentences; i++)
        sentence_free(&d->sentences[i]);
    free(d->sentences);
    sources_clear(d);
    free(d->unsupported);
    free(d);
}

/* Validate the citations of a sentence before anything is copied. */
static enum tr_err
cites_check(const char *const *cites, size_t n_cites, struct tr_error *err)
{
    if (n_cites > TR_DRAFT_CITES_MAX)
        return TR_ERROR(err, TR_E_INVAL,
                        "a sentence cites %zu passages, at most %d allowed",
                        n_cites, TR_DRAFT_CITES_MAX);
    if (n_cites > 0 && cites == NULL)
        return TR_ERROR(err, TR_E_INVAL, "citation list is missing");
    for (size_t i = 0; i < n_cites; i++)
        if (cites[i] == NULL || cites[i][0] == '\0')
            return TR_ERROR(err, TR_E_INVAL,
                            "citation %zu has an empty passage id", i + 1);
    return TR_OK;
}

/* Copy the distinct ids of `cites` into `s`. */
static enum tr_err
cites_copy(struct tr_draft_sentence *s, const char *const *cites,
           size_t n_cites)
{
    if (n_cites == 0)
        return TR_OK;
    s->cites = calloc(n_cites, sizeof(*s->cites));
    if (s->cites == NULL)
        return TR_E_NOMEM;

    /* Providers repeat an id now and then; one marker per passage is
     * what a reader expects. */
    for (size_t i = 0; i < n_cites; i++) {
        bool seen = false;

        for (size_t j = 0; j < s->n_cites; j++)
            seen = seen || strcmp(s->cites[j], cites[i]) == 0;
        if (seen)
            continue;
        s->cites[s->n_cites] = strdup(cites[i]);
        if (s->cites[s->n_cites] == NULL)
            return TR_E_NOMEM;
        s->n_cites++;
    }
    return TR_OK;
}

void
tr_draft__verdicts_reset(struct tr_draft *d)
{
    for (size_t i = 0; i < d->n_sentences; i++) {
        d->sentences[i].verdict = TR_DRAFT_UNCHECKED;
        d->sentences[i].score = 0;
        d->sentences[i].why = 0;
    }
    free(d->unsupported);
    d->unsupported = NULL;
    d->n_unsupported = 0;
    d->checked = false;
}

enum tr_err
tr_draft_sentence_add(struct tr_draft *d, const char *text, size_t len,
                      unsigned flags, const char *const *cites,
                      size_t n_cites, struct tr_error *err)
{
    struct tr_draft_sentence s = {0};
    enum tr_err rc;

    if (d == NULL || text == NULL)
        return TR_ERROR(err, TR_E_INVAL, "draft or sentence text is NULL");
    if (len > TR_DRAFT_SENTENCE_MAX)
        return TR_ERROR(err, TR_E_TOOBIG,
                        "sentence of %zu bytes exceeds the limit of %zu",
                        len, TR_DRAFT_SENTENCE_MAX);
    if ((rc = cites_check(cites, n_cites, err)) != TR_OK)
        return rc;

    /* Build the sentence aside and append it last, so that a failure
     * leaves the draft exactly as it was. */
    s.flags = flags;
    s.text = tr_draft__squeeze(text, len);
    if (s.text == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto fail;
    }
    if (s.text[0] == '\0') {
        rc = TR_ERROR(err, TR_E_INVAL, "sentence text is blank");
        goto fail;
    }
    if (cites_copy(&s, cites, n_cites) != TR_OK) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto fail;
    }

    if (d->n_sentences == d->cap_sentences) {
        size_t cap = d->cap_sentences ? d->cap_sentences * 2 : 16;
        struct tr_draft_sentence *v;

        v = realloc(d->sentences, cap * sizeof(*v));
        if (v == NULL) {
            rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
            goto fail;
        }
        d->sentences = v;
        d->cap_sentences = cap;
    }
    tr_draft__verdicts_reset(d);
    d->sentences[d->n_sentences++] = s;
    return TR_OK;

fail:
    sentence_free(&s);
    return rc;
}

/*
 * A linear search: a draft cites a handful of passages out of a dozen,
 * and a map would cost more to build than it saves.
 */
size_t
tr_draft__passage_find(const struct tr_draft_passage *p, size_t n,
                       const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].id, id) == 0)
            return i;
    return n;
}

/*
 * Passage text is measured with strlen(): it comes from our own index,
 * zero-terminated, and the cap bounds the work of every later step.
 */
enum tr_err
tr_draft__passages_check(const struct tr_draft_passage *p, size_t n,
                         struct tr_error *err)
{
    if (n > 0 && p == NULL)
        return TR_ERROR(err, TR_E_INVAL, "passage list is missing");
    for (size_t i = 0; i < n; i++) {
        if (p[i].id == NULL || p[i].id[0] == '\0')
            return TR_ERROR(err, TR_E_INVAL,
                            "passage %zu has no id", i + 1);
        if (p[i].text != NULL && strlen(p[i].text) > TR_DRAFT_PASSAGE_MAX)
            return TR_ERROR(err, TR_E_TOOBIG,
                            "passage \"%.64s\" exceeds the limit of %zu "
                            "bytes", p[i].id, TR_DRAFT_PASSAGE_MAX);
    }
    return TR_OK;
}

/* Index of the source with `id`, or n_sources when none. */
static size_t
source_find(const struct tr_draft *d, const char *id)
{
    for (size_t i = 0; i < d->n_sources; i++)
        if (strcmp(d->sources[i].id, id) == 0)
            return i;
    return d->n_sources;
}

/*
 * Append a source copied from passage `p`.  The array is made at its
 * final size `cap` on first use, so it never moves.
 */
static enum tr_err
source_add(struct tr_draft *d, const struct tr_draft_passage *p,
           size_t cap)
{
    struct tr_draft_source *s;

    if (d->sources == NULL) {
        d->sources = calloc(cap, sizeof(*d->sources));
        if (d->sources == NULL)
            return TR_E_NOMEM;
    }
    s = &d->sources[d->n_sources];
    s->id = strdup(p->id);
    s->title = strdup(p->title ? p->title : "");
    s->url = strdup(p->url ? p->url : "");
    s->article_id = p->article_id;

    /* Counted even when a copy failed so that clearing frees the rest. */
    d->n_sources++;
    if (s->id == NULL || s->title == NULL || s->url == NULL)
        return TR_E_NOMEM;
    return TR_OK;
}

enum tr_err
tr_draft__sources_build(struct tr_draft *d, const struct tr_draft_passage *p,
                        size_t n)
{
    sources_clear(d);
    for (size_t i = 0; i < d->n_sentences; i++) {
        const struct tr_draft_sentence *s = &d->sentences[i];

        for (size_t c = 0; c < s->n_cites; c++) {
            size_t k = tr_draft__passage_find(p, n, s->cites[c]);

            if (k == n || source_find(d, s->cites[c]) < d->n_sources)
                continue;

            /* At most one source per passage, so n bounds the array. */
            if (source_add(d, &p[k], n) != TR_OK) {
                sources_clear(d);
                return TR_E_NOMEM;
            }
        }
    }
    return TR_OK;
}

/*
 * A draft of greetings alone is not grounded: it says nothing that
 * could have been checked, and sending it would answer nothing.
 */
bool
tr_draft_grounded(const struct tr_draft *d)
{
    bool body = false;

    if (d == NULL || !d->checked || d->n_unsupported > 0)
        return false;
    for (size_t i = 0; i < d->n_sentences; i++)
        if (d->sentences[i].verdict == TR_DRAFT_SUPPORTED)
            body = true;
    return body;
}

const char *
tr_draft_verdict_name(enum tr_draft_verdict v)
{
    switch (v) {
    case TR_DRAFT_UNCHECKED:
        return "unchecked";
    case TR_DRAFT_EXEMPT:
        return "exempt";
    case TR_DRAFT_SUPPORTED:
        return "supported";
    case TR_DRAFT_UNSUPPORTED:
        return "unsupported";
    }
    return "unknown";
}

/* A growable string for rendering; `oom` sticks once set. */
struct sbuf {
    char *p;
    size_t n;
    size_t cap;
    bool oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (cap < b->n + len + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

/* Append a zero-terminated string. */
static void
sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Append " [n]" markers for the citations of `s`. */
static void
render_marks(struct sbuf *b, const struct tr_draft *d,
             const struct tr_draft_sentence *s)
{
    char mark[32];

    for (size_t c = 0; c < s->n_cites; c++) {
        size_t k = source_find(d, s->cites[c]);

        if (c == 0)
            sb_str(b, " ");
        if (k < d->n_sources)
            snprintf(mark, sizeof(mark), "[%zu]", k + 1);
        else
            snprintf(mark, sizeof(mark), "[?]");
        sb_str(b, mark);
    }
}

/*
 * The list of cited articles under a label in the draft's language; a
 * source without title shows its id so that the marker still resolves.
 */
static void
render_sources(struct sbuf *b, const struct tr_draft *d)
{
    char lang[TR_DRAFT_LANG_MAX], mark[32];

    if (d->n_sources == 0)
        return;
    tr_draft__lang_primary(d->lang, lang);
    sb_str(b, "\n\n");
    sb_str(b, tr_draft__tmpl_find(lang)->links);

    for (size_t i = 0; i < d->n_sources; i++) {
        const struct tr_draft_source *s = &d->sources[i];

        snprintf(mark, sizeof(mark), "\n[%zu] ", i + 1);
        sb_str(b, mark);
        sb_str(b, s->title[0] != '\0' ? s->title : s->id);
        if (s->url[0] != '\0') {
            sb_str(b, ": ");
            sb_str(b, s->url);
        }
    }
}

enum tr_err
tr_draft_render_text(const struct tr_draft *d, char **out, size_t *out_len,
                     struct tr_error *err)
{
    struct sbuf b = {0};

    *out = NULL;
    if (d == NULL)
        return TR_ERROR(err, TR_E_INVAL, "draft is NULL");

    /* An empty draft still renders as "", never as NULL. */
    sb_add(&b, "", 0);
    for (size_t i = 0; i < d->n_sentences; i++) {
        const struct tr_draft_sentence *s = &d->sentences[i];

        /* Paragraphs apart, steps on their own lines, else a space. */
        if (i > 0 && (s->flags & TR_DRAFT_SENT_PARA))
            sb_str(&b, "\n\n");
        else if (i > 0 && ((s->flags | d->sentences[i - 1].flags)
                           & TR_DRAFT_SENT_STEP))
            sb_str(&b, "\n");
        else if (i > 0)
            sb_str(&b, " ");
        sb_str(&b, s->text);
        render_marks(&b, d, s);
    }
    render_sources(&b, d);

    if (b.oom) {
        free(b.p);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    *out = b.p;
    if (out_len != NULL)
        *out_len = b.n;
    return TR_OK;
}

/* The JSON name of a sentence's kind; greeting wins over the others. */
static const char *
kind_name(unsigned flags)
{
    if (flags & TR_DRAFT_SENT_GREETING)
        return "greeting";
    if (flags & TR_DRAFT_SENT_CLOSING)
        return "closing";
    if (flags & TR_DRAFT_SENT_STEP)
        return "step";
    return "body";
}

/* Add the reason names of `why` to the array `a`; false on failure. */
static bool
json_reasons(cJSON *a, unsigned why)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {TR_DRAFT_WHY_NO_CITATION, "no_citation"},
        {TR_DRAFT_WHY_UNKNOWN_ID, "unknown_id"},
        {TR_DRAFT_WHY_LOW_COVERAGE, "low_coverage"},
        {TR_DRAFT_WHY_NUMBER, "number_mismatch"},
        {TR_DRAFT_WHY_NEGATION, "negation_mismatch"},
        {TR_DRAFT_WHY_EMPTY, "empty"},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((why & names[i].bit)
            && !cJSON_AddItemToArray(a, cJSON_CreateString(names[i].name)))
            return false;
    return true;
}

/*
 * Append one sentence object to `arr`.  Once added to the array, an
 * object is freed with the root, so only an orphan is deleted here.
 */
static bool
json_sentence(cJSON *arr, const struct tr_draft_sentence *s)
{
    cJSON *o = cJSON_CreateObject(), *cites, *why;

    if (o == NULL || !cJSON_AddItemToArray(arr, o))
        return cJSON_Delete(o), false;
    if (!cJSON_AddStringToObject(o, "text", s->text)
        || !cJSON_AddStringToObject(o, "kind", kind_name(s->flags))
        || !cJSON_AddBoolToObject(o, "para",
                                  (s->flags & TR_DRAFT_SENT_PARA) != 0)
        || (cites = cJSON_AddArrayToObject(o, "cites")) == NULL)
        return false;
    for (size_t c = 0; c < s->n_cites; c++)
        if (!cJSON_AddItemToArray(cites, cJSON_CreateString(s->cites[c])))
            return false;
    if (!cJSON_AddStringToObject(o, "verdict",
                                 tr_draft_verdict_name(s->verdict))
        || !cJSON_AddNumberToObject(o, "score", s->score)
        || (why = cJSON_AddArrayToObject(o, "reasons")) == NULL)
        return false;
    return json_reasons(why, s->why);
}

/* Append one source object to `arr`. */
static bool
json_source(cJSON *arr, const struct tr_draft_source *s)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || !cJSON_AddItemToArray(arr, o))
        return cJSON_Delete(o), false;

    /* Article ids are Zendesk's 64-bit ids: past 2^53 a JSON number
     * loses digits, so the id is written as a string. */
    {
        char id[32];

        snprintf(id, sizeof(id), "%lld", (long long)s->article_id);
        return cJSON_AddStringToObject(o, "id", s->id)
               && cJSON_AddStringToObject(o, "article_id", id)
               && cJSON_AddStringToObject(o, "title", s->title)
               && cJSON_AddStringToObject(o, "url", s->url);
    }
}

/* Fill the root object; false when cJSON ran out of memory. */
static bool
json_fill(cJSON *root, const struct tr_draft *d)
{
    cJSON *sents, *srcs, *uns;

    if (!cJSON_AddStringToObject(root, "language", d->lang)
        || !cJSON_AddBoolToObject(root, "checked", d->checked)
        || !cJSON_AddBoolToObject(root, "grounded", tr_draft_grounded(d))
        || !cJSON_AddBoolToObject(root, "weak_match", d->weak_match)
        || (sents = cJSON_AddArrayToObject(root, "sentences")) == NULL
        || (srcs = cJSON_AddArrayToObject(root, "sources")) == NULL
        || (uns = cJSON_AddArrayToObject(root, "unsupported")) == NULL)
        return false;

    for (size_t i = 0; i < d->n_sentences; i++)
        if (!json_sentence(sents, &d->sentences[i]))
            return false;
    for (size_t i = 0; i < d->n_sources; i++)
        if (!json_source(srcs, &d->sources[i]))
            return false;
    for (size_t i = 0; i < d->n_unsupported; i++)
        if (!cJSON_AddItemToArray(uns, cJSON_CreateNumber(
                                           (double)d->unsupported[i])))
            return false;
    return true;
}

enum tr_err
tr_draft_render_json(const struct tr_draft *d, char **out,
                     struct tr_error *err)
{
    cJSON *root;
    enum tr_err rc = TR_OK;

    *out = NULL;
    if (d == NULL)
        return TR_ERROR(err, TR_E_INVAL, "draft is NULL");
    root = cJSON_CreateObject();
    if (root == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");

    if (!json_fill(root, d)) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    /* Unformatted: it goes into a jsonb column, not before a reader. */
    *out = cJSON_PrintUnformatted(root);
    if (*out == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");

out:
    cJSON_Delete(root);
    return rc;
}
