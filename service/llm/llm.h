/*
 * llm.h
 *      Model providers for reply drafting and ticket routing: one
 *      interface over the OpenAI-compatible chat completions API and
 *      Anthropic's Messages API.
 *
 * A provider (struct tr_llm) is made once from a configuration and asked
 * for drafts: it gets the tenant's instructions, the ticket text (already
 * redacted by the caller: nothing here looks for personal data), the
 * retrieved passages and the reply language, and answers a list of
 * sentences, each naming the passages it rests on by their ids.  The
 * prompt allows the given passages only and demands a citation for
 * every sentence that states a fact; greeting and closing sentences are
 * marked as such and cite nothing.  A citation of an id that was not
 * given is an error, so a caller never renders a source it did not
 * retrieve; uncited body sentences pass through for the grounding check
 * of the draft module to judge.
 *
 * A provider can also route a ticket (tr_llm_classify()): given the
 * redacted ticket text, the tenant's teams with their descriptions, its
 * priorities and known intents, it answers one team, one priority, an
 * intent, a confidence from 0 to 1 and a short reason.  The answer is
 * checked as strictly as a draft's citations: a team or priority that
 * was not offered, a confidence out of range or a member too many is
 * an error, never passed on.
 *
 * Every call keeps what the ledger needs to replay or audit it: the exact
 * request body, its SHA-256, the raw answer, provider and model.  The
 * body is a pure function of the configuration and the input
 * (tr_llm_request_build()), so a stored draft can be rebuilt and its hash
 * compared without calling the provider.
 *
 * HTTP goes through tr_httpc with the provider's retry preset (408, 409,
 * 429 and 5xx retried, Retry-After honoured up to the provider's cap).
 * The API key is sent in its header only: it never appears in a log line
 * or an error message, even when a provider echoes it back.
 *
 * A provider is immutable once made and may be used from any number of
 * threads at once; it keeps a small pool of HTTP clients.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_LLM_H
#define TR_LLM_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "httpc.h"
#include "mem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most passages one draft request may carry. */
#define TR_LLM_PASSAGES_MAX 32

/* Most citations one sentence may carry (as the draft module allows). */
#define TR_LLM_CITES_MAX 16

/* Longest answer body read from a provider. */
#define TR_LLM_RESPONSE_MAX ((size_t) 1 << 20)

/* Most teams, priorities or intents one classification may offer. */
#define TR_LLM_CHOICES_MAX 64

/* Longest team, priority or intent name a classification accepts. */
#define TR_LLM_NAME_MAX 64

/* Longest reason a classification accepts, in bytes. */
#define TR_LLM_REASON_MAX 500

/* The API a provider speaks. */
enum tr_llm_kind {
    TR_LLM_OPENAI = 1,          /* POST {base_url}/chat/completions */
    TR_LLM_ANTHROPIC            /* POST {base_url}/v1/messages */
};

/*
 * Configuration of a provider.  Strings are copied by tr_llm_new().
 * `base_url` follows each vendor's own convention: for OpenAI and
 * compatible servers it ends in /v1 ("https://api.openai.com/v1",
 * "http://localhost:11434/v1"); for Anthropic it is the host root
 * ("https://api.anthropic.com").  `policy`, when not NULL, replaces the
 * provider's retry preset (copied; tests inject a sleep that only
 * records); `max_retries` applies to the preset only.
 */
struct tr_llm_conf {
    enum tr_llm_kind kind;
    const char *base_url;
    const char *api_key;        /* never logged; may be "" for local */
    const char *model;
    long timeout_ms;            /* per attempt, whole request (60000) */
    long connect_timeout_ms;    /* (5000) */
    int max_retries;            /* retries after the first attempt (2) */
    int max_tokens;             /* answer length cap (1024) */
    double temperature;         /* 0.2; negative: not sent */
    bool max_completion_tokens; /* OpenAI: send max_completion_tokens, as
                                 * reasoning models require, instead of
                                 * max_tokens (which local servers read) */
    const struct tr_httpc_policy *policy;
};

/* One retrieved passage; borrowed for the call that receives it. */
struct tr_llm_passage {
    const char *id;             /* citation id, unique in the call */
    const char *title;          /* may be NULL */
    const char *url;            /* may be NULL */
    const char *text;
};

/* What to draft from; everything is borrowed for the call. */
struct tr_llm_input {
    const char *instructions;   /* tenant's instructions, may be NULL */
    const char *ticket;         /* subject and body, already redacted */
    const char *language;       /* ISO 639-1 reply language, "en" if NULL */
    const struct tr_llm_passage *passages;
    size_t n_passages;          /* 1 .. TR_LLM_PASSAGES_MAX */
};

/* The role of a drafted sentence. */
enum tr_llm_sentence_kind {
    TR_LLM_SENT_BODY = 0,       /* states something; should cite */
    TR_LLM_SENT_GREETING,       /* salutation; cites nothing */
    TR_LLM_SENT_CLOSING         /* sign-off; cites nothing */
};

struct tr_llm_sentence {
    const char *text;
    enum tr_llm_sentence_kind kind;
    const char **citations;     /* ids among the input's passages */
    size_t n_citations;         /* duplicates removed */
};

/* A team offered to a classification; borrowed for the call. */
struct tr_llm_team {
    const char *name;
    const char *description;    /* may be NULL */
};

/* What to classify; everything is borrowed for the call. */
struct tr_llm_classify_input {
    const char *ticket;         /* subject and body, already redacted */
    const struct tr_llm_team *teams;
    size_t n_teams;             /* 1 .. TR_LLM_CHOICES_MAX */
    const char *const *priorities;  /* lowest first */
    size_t n_priorities;        /* 1 .. TR_LLM_CHOICES_MAX */
    const char *const *intents; /* known intents; may be NULL */
    size_t n_intents;           /* 0: any short name is accepted */
};

/* A classification, its strings in the result's arena. */
struct tr_llm_label {
    const char *team;           /* one of the input's teams */
    const char *priority;       /* one of the input's priorities */
    const char *intent;         /* a known intent, or any name when none
                                 * were given; NULL for "other" */
    double confidence;          /* 0..1, as the model judged it */
    const char *reason;         /* may be "" */
};

/*
 * The outcome of one call, filled as far as it got even when the call
 * fails, so that the ledger can record failures too.  Strings live in
 * the result's arena until tr_llm_result_cleanup().
 */
struct tr_llm_result {
    struct tr_arena *arena;
    struct tr_llm_sentence *sentences;
    size_t n_sentences;
    struct tr_llm_label label;  /* tr_llm_classify() only */
    const char *provider;       /* "openai" or "anthropic" */
    const char *model;          /* as configured */
    const char *answer_model;   /* as the provider named it, or "" */
    const char *request;        /* exact body sent, or "" */
    size_t request_len;
    char prompt_hash[65];       /* SHA-256 hex of request, or "" */
    const char *raw;            /* body of the last answer, or "" */
    int status;                 /* HTTP status of the last answer, or 0 */
    int n_attempts;
    long dur_ms;
    long input_tokens;          /* as reported, or -1 */
    long output_tokens;
    const char *stop_reason;    /* finish_reason / stop_reason, or "" */
};

struct tr_llm;

/*
 * Fill `c` with the defaults shown in struct tr_llm_conf for `kind`;
 * base_url is the vendor's public endpoint, api_key and model are NULL.
 * Pure.
 */
void tr_llm_conf_default(struct tr_llm_conf *c, enum tr_llm_kind kind);

/*
 * Parse "openai" or "anthropic" into `out`.  TR_E_CONF for anything
 * else, with the accepted names in the message.  Pure.
 */
enum tr_err tr_llm_kind_parse(const char *s, enum tr_llm_kind *out,
                              struct tr_error *err);

/* The name of `kind` ("openai", "anthropic", "unknown").  Static. */
const char *tr_llm_kind_name(enum tr_llm_kind kind);

/*
 * Make a provider from `conf`.  NULL with TR_E_CONF (no base URL, no
 * model, a base URL that is not http(s), a negative timeout or retry
 * count) or TR_E_NOMEM in `err`.  The caller owns the result and frees
 * it with tr_llm_free().  Any thread.
 */
struct tr_llm *tr_llm_new(const struct tr_llm_conf *conf,
                          struct tr_error *err);

/* Free `llm` and its HTTP clients.  NULL is a no-op. */
void tr_llm_free(struct tr_llm *llm);

/* Prepare an empty result.  Allocates nothing yet. */
void tr_llm_result_init(struct tr_llm_result *r);

/* Release what `r` holds and make it empty again. */
void tr_llm_result_cleanup(struct tr_llm_result *r);

/*
 * Ask the provider for a draft of `in` and fill `out` (which must have
 * been initialised; its earlier content is released first).
 *
 * Returns TR_OK with at least one sentence, every citation naming one
 * of the input's passages.  Otherwise:
 *   TR_E_INVAL      the input is unusable (no ticket text, no passage,
 *                   more than TR_LLM_PASSAGES_MAX, an empty or repeated
 *                   passage id); nothing is sent;
 *   TR_E_TIMEOUT    no answer within timeout_ms, retries spent;
 *   TR_E_HTTP_UPSTREAM  the provider could not be reached, or answered
 *                   5xx until the retries were spent;
 *   TR_E_AGAIN      429 until the retries were spent, or a wait longer
 *                   than the preset's cap was asked for;
 *   TR_E_AUTH, TR_E_PERM  the key was refused;
 *   TR_E_MODEL      the provider refused the request (400, 404, 413,
 *                   422: a wrong model name, say), or an answer
 *                   arrived but is unusable: not JSON, no sentences, a
 *                   refusal, cut off by max_tokens, or a citation of an
 *                   unknown passage id.
 * err->foreign then holds a short reason ("http_500", "timeout",
 * "malformed_json", "unknown_citation", "refusal", "truncated",
 * "no_sentences") for metrics.  On every failure the caller falls back
 * to the extractive drafter or escalates.  Logs one line per call (ids,
 * status, attempts, hash; never the key or any text).  Any thread.
 */
enum tr_err tr_llm_draft(struct tr_llm *llm, const struct tr_llm_input *in,
                         struct tr_llm_result *out, struct tr_error *err);

/*
 * Build into `out` (appended) the exact request body tr_llm_draft() sends
 * for `conf` and `in`, without sending it.  The same configuration and
 * input always give the same bytes.  TR_E_INVAL as tr_llm_draft() for
 * bad input, TR_E_TOOBIG or TR_E_NOMEM from the buffer.  Pure.
 */
enum tr_err tr_llm_request_build(const struct tr_llm_conf *conf,
                                 const struct tr_llm_input *in,
                                 struct tr_buf *out, struct tr_error *err);

/*
 * Parse a provider answer body of `len` bytes, as tr_llm_draft() does,
 * into `out`'s sentences (checked against `in`'s passages), for replay
 * of a stored answer.  Returns TR_OK or TR_E_MODEL with the reasons of
 * tr_llm_draft().  `out` must have been initialised; only its sentences,
 * answer_model, stop_reason and token counts are set.  Pure.
 */
enum tr_err tr_llm_response_parse(const struct tr_llm_conf *conf,
                                  const struct tr_llm_input *in,
                                  const char *body, size_t len,
                                  struct tr_llm_result *out,
                                  struct tr_error *err);

/*
 * Ask the provider to route `in`: one of its teams and priorities, an
 * intent, a confidence and a reason, into out->label (`out` must have
 * been initialised; its earlier content is released first).  Request
 * body, hash, raw answer, provider and model are kept as for a draft.
 *
 * Returns TR_OK with every member checked against `in`.  Otherwise the
 * codes of tr_llm_draft(), with TR_E_INVAL for an unusable input (no
 * ticket text, no team or priority, more than TR_LLM_CHOICES_MAX, an
 * empty or repeated name) and TR_E_MODEL for an answer that is not the
 * asked-for object; err->foreign then also names "unknown_team",
 * "unknown_priority", "unknown_intent" or "bad_confidence".  Logs one
 * line per call, as a draft does.  Any thread.
 */
enum tr_err tr_llm_classify(struct tr_llm *llm,
                            const struct tr_llm_classify_input *in,
                            struct tr_llm_result *out,
                            struct tr_error *err);

/*
 * Build into `out` (appended) the exact request body tr_llm_classify()
 * sends for `conf` and `in`.  The same configuration and input always
 * give the same bytes.  TR_E_INVAL as tr_llm_classify(), TR_E_TOOBIG or
 * TR_E_NOMEM from the buffer.  Pure.
 */
enum tr_err tr_llm_classify_request_build(
    const struct tr_llm_conf *conf, const struct tr_llm_classify_input *in,
    struct tr_buf *out, struct tr_error *err);

/*
 * Parse a provider answer body of `len` bytes, as tr_llm_classify()
 * does, into out->label, for replay of a stored answer.  TR_OK or
 * TR_E_MODEL with the reasons of tr_llm_classify().  Pure.
 */
enum tr_err tr_llm_classify_response_parse(
    const struct tr_llm_conf *conf, const struct tr_llm_classify_input *in,
    const char *body, size_t len, struct tr_llm_result *out,
    struct tr_error *err);

/* Write the SHA-256 of `len` bytes at `data` as 64 hex digits and a
 * terminator into `out`.  Pure. */
void tr_llm_sha256_hex(const void *data, size_t len, char out[65]);

#ifdef __cplusplus
}
#endif

#endif /* TR_LLM_H */
