/*
 * tok_spm.cpp
 *      The sentencepiece bridge (first version: interface only).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cstdlib>

#include "tok.h"

extern "C" struct tr_tok_model *
tr_tok_model_train(const char *const *texts, size_t n_texts,
                   const struct tr_tok_train_opts *o,
                   struct tr_tok_train_info *info, struct tr_error *err)
{
    TR_ERROR(err, TR_E_UNSUPPORTED, "training not built yet");
    return NULL;
}

extern "C" struct tr_tok_model *
tr_tok_model_load_file(const char *path, struct tr_error *err)
{
    TR_ERROR(err, TR_E_UNSUPPORTED, "loading not built yet");
    return NULL;
}

extern "C" struct tr_tok_model *
tr_tok_model_load(const void *buf, size_t buf_len, struct tr_error *err)
{
    TR_ERROR(err, TR_E_UNSUPPORTED, "loading not built yet");
    return NULL;
}

extern "C" void
tr_tok_model_free(struct tr_tok_model *m)
{
}

extern "C" enum tr_err
tr_tok_model_serialize(const struct tr_tok_model *m, void **buf,
                       size_t *buf_len, struct tr_error *err)
{
    return TR_ERROR(err, TR_E_UNSUPPORTED, "not built yet");
}

extern "C" enum tr_err
tr_tok_model_write(const struct tr_tok_model *m, const char *path,
                   struct tr_error *err)
{
    return TR_ERROR(err, TR_E_UNSUPPORTED, "not built yet");
}

extern "C" int
tr_tok_model_size(const struct tr_tok_model *m)
{
    return 0;
}

extern "C" const char *
tr_tok_model_piece(const struct tr_tok_model *m, int id)
{
    return NULL;
}

extern "C" enum tr_err
tr_tok_encode_ids(const struct tr_tok_model *m, const char *text,
                  size_t len, int **ids, size_t *n_ids, struct tr_error *err)
{
    return TR_ERROR(err, TR_E_UNSUPPORTED, "not built yet");
}

extern "C" enum tr_err
tr_tok_encode_pieces(const struct tr_tok_model *m, const char *text,
                     size_t len, tr_tok_piece_fn fn, void *ud,
                     struct tr_error *err)
{
    return TR_ERROR(err, TR_E_UNSUPPORTED, "not built yet");
}

extern "C" enum tr_err
tr_tok_decode_ids(const struct tr_tok_model *m, const int *ids,
                  size_t n_ids, char **out, size_t *out_len,
                  struct tr_error *err)
{
    return TR_ERROR(err, TR_E_UNSUPPORTED, "not built yet");
}

extern "C" size_t
tr_tok_count(void *ud, const char *text, size_t len)
{
    return 0;
}
