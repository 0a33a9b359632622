/*
 * tok_spm.cpp
 *      The sentencepiece bridge: unigram training from texts in memory,
 *      loading, storing and encoding, behind the C contract of tok.h.
 *
 * sentencepiece is C++ only and reports failures as util::Status values
 * (and, rarely, exceptions such as std::bad_alloc); this file is the only
 * one that includes it and turns both into enum tr_err with the library's
 * message.  Training feeds the trainer from memory through its
 * SentenceIterator and receives the model as a serialised proto, so no
 * temporary file is written.
 *
 * A model is immutable after train or load; encoding is const and runs
 * from any number of threads.  Training sets the library's process-wide
 * random seed, so two trainings should not run at the same time if their
 * results must be reproducible (each is still a valid model otherwise).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "tok.h"

/* Lines longer than this are cut: the trainer skips lines over 4192. */
#define TR_TOK_LINE_MAX 4000

/* Fixed seed so that training is reproducible. */
#define TR_TOK_SEED 20240601u

struct tr_tok_model {
    sentencepiece::SentencePieceProcessor sp;
};

/*
 * Hands the prepared lines to the trainer one by one.
 */
class line_iter : public sentencepiece::SentenceIterator {
public:
    explicit line_iter(const std::vector<std::string> &lines)
        : lines_(lines), i_(0)
    {
    }

    bool done() const override
    {
        return i_ >= lines_.size();
    }

    void Next() override
    {
        i_++;
    }

    const std::string &value() const override
    {
        return lines_[i_];
    }

    sentencepiece::util::Status status() const override
    {
        return sentencepiece::util::Status();
    }

private:
    const std::vector<std::string> &lines_;
    size_t i_;
};

/*
 * Return how many bytes of `s` (at most `max`) end on a UTF-8 character
 * boundary, preferring the last space in the second half.
 */
static size_t
cut_point(const char *s, size_t len, size_t max)
{
    size_t cut;

    if (len <= max)
        return len;
    for (cut = max; cut > max / 2; cut--)
        if (s[cut] == ' ')
            return cut;

    /* No space: back up over continuation bytes (10xxxxxx). */
    cut = max;
    while (cut > 1 && ((unsigned char) s[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

/*
 * Append the non-blank lines of `text` to `lines`, cutting long ones.
 */
static void
split_lines(const char *text, std::vector<std::string> &lines)
{
    const char *p = text;

    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t) (nl - p) : strlen(p);
        const char *q = p;
        size_t left = len;

        while (left > 0) {
            size_t cut = cut_point(q, left, TR_TOK_LINE_MAX);
            std::string line(q, cut);

            if (line.find_first_not_of(" \t\r\f\v") != std::string::npos)
                lines.push_back(std::move(line));
            q += cut;
            left -= cut;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
}

/*
 * The level below which the library's LOG() lines are dropped.  It is
 * exported by libsentencepiece but declared only in a header that is not
 * installed (common.h); the trainer's first line, "Running command: ...",
 * is logged before --minloglevel is read, so the level is set here first.
 * 2 is ERROR.  A library without the symbol fails at link time, not at
 * run time.
 */
namespace sentencepiece {
namespace logging {
void SetMinLogLevel(int v);
}
}

/*
 * Run the trainer once.  On success the model proto is in *proto.
 */
static sentencepiece::util::Status
train_once(const std::vector<std::string> &lines, int vocab, bool hard,
           const struct tr_tok_train_opts *o, std::string *proto)
{
    line_iter it(lines);
    char args[512];

    /* --minloglevel keeps the trainer's progress lines off stderr. */
    snprintf(args, sizeof(args),
             "--model_type=unigram --vocab_size=%d --hard_vocab_limit=%s "
             "--character_coverage=%g --num_threads=%d --minloglevel=2 "
             "--input_sentence_size=0 --shuffle_input_sentence=false "
             "--max_sentence_length=4192 --byte_fallback=%s "
             "--model_prefix=",
             vocab, hard ? "true" : "false", o->char_coverage, o->n_threads,
             o->byte_fallback ? "true" : "false");
    sentencepiece::logging::SetMinLogLevel(2);
    sentencepiece::SetRandomGeneratorSeed(TR_TOK_SEED);
    return sentencepiece::SentencePieceTrainer::Train(args, &it, proto);
}

/*
 * Read the largest vocabulary the trainer said it could support from
 * "... Please set it to a value <= N.", or 0 when the message has none.
 */
static int
suggested_vocab(const std::string &msg)
{
    size_t at = msg.find("<= ");

    if (at == std::string::npos)
        return 0;
    return atoi(msg.c_str() + at + 3);
}

/*
 * Train with retries for small corpora (see tr_tok_model_train() in
 * tok.h).  Fills *proto and `info`.
 */
static enum tr_err
train_retrying(const std::vector<std::string> &lines,
               const struct tr_tok_train_opts *o,
               struct tr_tok_train_info *info, std::string *proto,
               struct tr_error *err)
{
    int vocab = o->vocab_size;
    bool hard = true;
    sentencepiece::util::Status st;

    for (int attempt = 1; attempt <= 3; attempt++) {
        info->n_attempts = attempt;
        info->hard_limit = hard;
        st = train_once(lines, vocab, hard, o, proto);
        if (st.ok())
            return TR_OK;

        /*
         * The only failure worth retrying is a vocabulary too large for
         * the corpus: first with the size the trainer offers, when it is
         * big enough to be useful, else with the limit relaxed.
         */
        std::string msg = st.ToString();
        int offer = suggested_vocab(msg);
        if (msg.find("ocabulary size") == std::string::npos || !hard)
            break;
        if (offer >= o->min_vocab_size && offer < vocab)
            vocab = offer;
        else
            hard = false;
    }
    return TR_ERROR(err, TR_E_INDEX, "could not train tokenizer: %s",
                    st.ToString().c_str());
}

/*
 * Copy the defaults into the zeroed fields of `in`.
 */
static struct tr_tok_train_opts
fill_opts(const struct tr_tok_train_opts *in)
{
    struct tr_tok_train_opts o = {};

    if (in != NULL)
        o = *in;
    if (o.vocab_size <= 0)
        o.vocab_size = TR_TOK_VOCAB_DEFAULT;
    if (o.min_vocab_size <= 0)
        o.min_vocab_size = 64;
    if (o.n_threads <= 0)
        o.n_threads = 1;
    if (o.char_coverage <= 0.0 || o.char_coverage > 1.0)
        o.char_coverage = 1.0;
    return o;
}

/*
 * Build a model from a serialised proto.  NULL with `err` filled.
 */
static struct tr_tok_model *
model_from_proto(const char *buf, size_t len, struct tr_error *err)
{
    struct tr_tok_model *m = new (std::nothrow) tr_tok_model();

    if (m == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }

    try {
        auto st = m->sp.LoadFromSerializedProto(
            std::string_view(buf, len));
        if (!st.ok()) {
            TR_ERROR(err, TR_E_INDEX, "could not load tokenizer model: %s",
                     st.ToString().c_str());
            delete m;
            return NULL;
        }
    } catch (const std::exception &e) {
        TR_ERROR(err, TR_E_INDEX, "could not load tokenizer model: %s",
                 e.what());
        delete m;
        return NULL;
    }
    return m;
}

extern "C" struct tr_tok_model *
tr_tok_model_train(const char *const *texts, size_t n_texts,
                   const struct tr_tok_train_opts *opts,
                   struct tr_tok_train_info *info, struct tr_error *err)
{
    struct tr_tok_train_opts o = fill_opts(opts);
    struct tr_tok_train_info dummy;
    std::vector<std::string> lines;
    std::string proto;

    if (info == NULL)
        info = &dummy;
    memset(info, 0, sizeof(*info));
    info->vocab_requested = o.vocab_size;

    try {
        for (size_t i = 0; i < n_texts; i++)
            if (texts[i] != NULL)
                split_lines(texts[i], lines);
        info->n_sentences = lines.size();
        if (lines.empty()) {
            TR_ERROR(err, TR_E_INVAL, "no text to train the tokenizer on");
            return NULL;
        }
        if (train_retrying(lines, &o, info, &proto, err) != TR_OK)
            return NULL;
    } catch (const std::bad_alloc &) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory while training tokenizer");
        return NULL;
    } catch (const std::exception &e) {
        TR_ERROR(err, TR_E_INDEX, "could not train tokenizer: %s",
                 e.what());
        return NULL;
    }

    struct tr_tok_model *m = model_from_proto(proto.data(), proto.size(),
                                              err);
    if (m != NULL)
        info->vocab_size = m->sp.GetPieceSize();
    return m;
}

extern "C" struct tr_tok_model *
tr_tok_model_load_file(const char *path, struct tr_error *err)
{
    std::string data;
    char chunk[65536];
    size_t got;
    FILE *f;

    if (path == NULL) {
        TR_ERROR(err, TR_E_INVAL, "no model path");
        return NULL;
    }

    /* Read the file ourselves so that a missing file is TR_E_NOTFOUND. */
    f = fopen(path, "rb");
    if (f == NULL) {
        TR_ERROR(err, errno == ENOENT ? TR_E_NOTFOUND : TR_E_IO,
                 "could not open file \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    try {
        while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
            data.append(chunk, got);
    } catch (const std::bad_alloc &) {
        fclose(f);
        TR_ERROR(err, TR_E_NOMEM, "out of memory reading \"%s\"", path);
        return NULL;
    }
    if (ferror(f)) {
        TR_ERROR(err, TR_E_IO, "could not read file \"%s\"", path);
        fclose(f);
        return NULL;
    }
    fclose(f);

    if (data.empty()) {
        TR_ERROR(err, TR_E_INDEX, "tokenizer model file \"%s\" is empty",
                 path);
        return NULL;
    }
    return model_from_proto(data.data(), data.size(), err);
}

extern "C" struct tr_tok_model *
tr_tok_model_load(const void *buf, size_t buf_len, struct tr_error *err)
{
    if (buf == NULL || buf_len == 0) {
        TR_ERROR(err, TR_E_INDEX, "empty tokenizer model buffer");
        return NULL;
    }
    return model_from_proto((const char *) buf, buf_len, err);
}

extern "C" void
tr_tok_model_free(struct tr_tok_model *m)
{
    delete m;
}

extern "C" enum tr_err
tr_tok_model_serialize(const struct tr_tok_model *m, void **buf,
                       size_t *buf_len, struct tr_error *err)
{
    if (m == NULL || buf == NULL || buf_len == NULL)
        return TR_ERROR(err, TR_E_INVAL, "no model or output");

    try {
        std::string proto = m->sp.serialized_model_proto();

        *buf = malloc(proto.size() > 0 ? proto.size() : 1);
        if (*buf == NULL)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
        memcpy(*buf, proto.data(), proto.size());
        *buf_len = proto.size();
    } catch (const std::exception &e) {
        return TR_ERROR(err, TR_E_INDEX, "could not serialize tokenizer "
                        "model: %s", e.what());
    }
    return TR_OK;
}

extern "C" enum tr_err
tr_tok_model_write(const struct tr_tok_model *m, const char *path,
                   struct tr_error *err)
{
    void *buf = NULL;
    size_t len = 0;
    enum tr_err rc;
    FILE *f;

    if (path == NULL)
        return TR_ERROR(err, TR_E_INVAL, "no model path");
    rc = tr_tok_model_serialize(m, &buf, &len, err);
    if (rc != TR_OK)
        return rc;

    f = fopen(path, "wb");
    if (f == NULL) {
        rc = TR_ERROR(err, TR_E_IO, "could not open file \"%s\": %s", path,
                      strerror(errno));
        goto out;
    }
    if (fwrite(buf, 1, len, f) != len) {
        rc = TR_ERROR(err, TR_E_IO, "could not write file \"%s\"", path);
        fclose(f);
        goto out;
    }
    if (fclose(f) != 0)
        rc = TR_ERROR(err, TR_E_IO, "could not write file \"%s\": %s", path,
                      strerror(errno));

out:
    free(buf);
    return rc;
}

extern "C" int
tr_tok_model_size(const struct tr_tok_model *m)
{
    return m->sp.GetPieceSize();
}

extern "C" const char *
tr_tok_model_piece(const struct tr_tok_model *m, int id)
{
    if (id < 0 || id >= m->sp.GetPieceSize())
        return NULL;
    return m->sp.IdToPiece(id).c_str();
}

/*
 * Encode into a vector; the shared step of the encoders below.
 */
static enum tr_err
encode_vec(const struct tr_tok_model *m, const char *text, size_t len,
           std::vector<int> *ids, struct tr_error *err)
{
    if (m == NULL || (text == NULL && len > 0))
        return TR_ERROR(err, TR_E_INVAL, "no model or text");

    try {
        auto st = m->sp.Encode(
            std::string_view(text, len), ids);
        if (!st.ok())
            return TR_ERROR(err, TR_E_INDEX, "could not encode text: %s",
                            st.ToString().c_str());
    } catch (const std::bad_alloc &) {
        return TR_ERROR(err, TR_E_NOMEM, "out of memory while encoding");
    } catch (const std::exception &e) {
        return TR_ERROR(err, TR_E_INDEX, "could not encode text: %s",
                        e.what());
    }
    return TR_OK;
}

extern "C" enum tr_err
tr_tok_encode_ids(const struct tr_tok_model *m, const char *text,
                  size_t len, int **ids, size_t *n_ids, struct tr_error *err)
{
    std::vector<int> v;
    enum tr_err rc;

    if (ids == NULL || n_ids == NULL)
        return TR_ERROR(err, TR_E_INVAL, "no output");
    *ids = NULL;
    *n_ids = 0;

    rc = encode_vec(m, text, len, &v, err);
    if (rc != TR_OK || v.empty())
        return rc;

    *ids = (int *) malloc(v.size() * sizeof(int));
    if (*ids == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    memcpy(*ids, v.data(), v.size() * sizeof(int));
    *n_ids = v.size();
    return TR_OK;
}

extern "C" enum tr_err
tr_tok_encode_pieces(const struct tr_tok_model *m, const char *text,
                     size_t len, tr_tok_piece_fn fn, void *ud,
                     struct tr_error *err)
{
    std::vector<int> v;
    enum tr_err rc;

    if (fn == NULL)
        return TR_ERROR(err, TR_E_INVAL, "no piece callback");
    rc = encode_vec(m, text, len, &v, err);
    if (rc != TR_OK)
        return rc;

    /* IdToPiece returns a reference into the model: no copy is made. */
    for (int id : v) {
        const std::string &p = m->sp.IdToPiece(id);

        if (fn(ud, p.data(), p.size(), id) != 0)
            break;
    }
    return TR_OK;
}

extern "C" enum tr_err
tr_tok_decode_ids(const struct tr_tok_model *m, const int *ids,
                  size_t n_ids, char **out, size_t *out_len,
                  struct tr_error *err)
{
    std::string text;

    if (m == NULL || out == NULL || (ids == NULL && n_ids > 0))
        return TR_ERROR(err, TR_E_INVAL, "no model, ids or output");
    *out = NULL;

    for (size_t i = 0; i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= m->sp.GetPieceSize())
            return TR_ERROR(err, TR_E_INDEX, "piece id %d out of range",
                            ids[i]);

    try {
        std::vector<int> v(ids, ids + n_ids);
        auto st = m->sp.Decode(v, &text);
        if (!st.ok())
            return TR_ERROR(err, TR_E_INDEX, "could not decode ids: %s",
                            st.ToString().c_str());
    } catch (const std::exception &e) {
        return TR_ERROR(err, TR_E_INDEX, "could not decode ids: %s",
                        e.what());
    }

    *out = strdup(text.c_str());
    if (*out == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    if (out_len != NULL)
        *out_len = text.size();
    return TR_OK;
}

extern "C" size_t
tr_tok_count(void *ud, const char *text, size_t len)
{
    std::vector<int> v;

    if (encode_vec((const struct tr_tok_model *) ud, text, len, &v, NULL)
        != TR_OK)
        return 0;
    return v.size();
}
