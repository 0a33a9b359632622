/*
 * eval_main.c
 *      tr-eval-retrieval: measure BM25, dense and hybrid retrieval on a
 *      test collection and print the figures.
 *
 * Every setting of the run can be changed from the command line, so the
 * defaults can be checked against alternatives on one half of the
 * queries and confirmed on the other.  Runs in the main thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retrieval.h"

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: tr-eval-retrieval [options] DATASET_DIR\n"
        "  --half a|b          only the queries of that half\n"
        "  --article           rank articles instead of documents\n"
        "  --k1 X --b X        BM25 parameters\n"
        "  --title-weight X    BM25 weight of title tokens\n"
        "  --stem LANG|none    Snowball stemming language\n"
        "  --fusion rrf|score  fusion method\n"
        "  --rrf-k X           RRF rank offset\n"
        "  --w-bm25 X --w-dense X  fusion weights\n"
        "  --depth N           candidates per retriever\n"
        "  --dim N             embedding dimension\n"
        "  --ngrams MIN-MAX    character n-gram range (0-0: none)\n"
        "  --ngram-weight X    weight of the n-gram block\n"
        "  --word-weight X     weight of the word block\n"
        "  --title-repeat N    times the title is given to the embedder\n"
        "  --power-iters N     SVD power iterations\n");
}

static void
print_row(const char *name, const struct tr_eval_metrics *m)
{
    printf("%-8s nDCG@10 %.4f  MRR@10 %.4f  R@1 %.4f  R@5 %.4f  "
           "R@10 %.4f  S@1 %.4f  S@10 %.4f\n", name, m->ndcg_10, m->mrr_10,
           m->recall_1, m->recall_5, m->recall_10, m->success_1,
           m->success_10);
}

/* Apply one option to `o`; -1 when its value is bad. */
static int
apply(struct tr_eval_run_opts *o, const char *name, const char *v)
{
    if (strcmp(name, "half") == 0)
        o->half = v[0];
    else if (strcmp(name, "k1") == 0)
        o->bm25.k1 = atof(v);
    else if (strcmp(name, "b") == 0)
        o->bm25.b = atof(v);
    else if (strcmp(name, "title-weight") == 0)
        o->bm25.title_weight = atof(v);
    else if (strcmp(name, "stem") == 0) {
        snprintf(o->bm25.stem_lang, sizeof(o->bm25.stem_lang), "%s",
                 strcmp(v, "none") == 0 ? "" : v);
        snprintf(o->embed.stem_lang, sizeof(o->embed.stem_lang), "%s",
                 o->bm25.stem_lang);
    } else if (strcmp(name, "fusion") == 0)
        o->search.fusion = strcmp(v, "score") == 0 ? TR_SEARCH_SCORE
                                                   : TR_SEARCH_RRF;
    else if (strcmp(name, "rrf-k") == 0)
        o->search.rrf_k = atof(v);
    else if (strcmp(name, "w-bm25") == 0)
        o->search.w_bm25 = atof(v);
    else if (strcmp(name, "w-dense") == 0)
        o->search.w_dense = atof(v);
    else if (strcmp(name, "depth") == 0)
        o->search.depth = (size_t) atol(v);
    else if (strcmp(name, "dim") == 0)
        o->embed.dim = atoi(v);
    else if (strcmp(name, "ngrams") == 0)
        return sscanf(v, "%d-%d", &o->embed.ngram_min,
                      &o->embed.ngram_max) == 2 ? 0 : -1;
    else if (strcmp(name, "ngram-weight") == 0)
        o->embed.ngram_weight = (float) atof(v);
    else if (strcmp(name, "word-weight") == 0)
        o->embed.word_weight = (float) atof(v);
    else if (strcmp(name, "title-repeat") == 0)
        o->title_repeat = atoi(v);
    else if (strcmp(name, "power-iters") == 0)
        o->embed.power_iters = atoi(v);
    else
        return -1;
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"half", 1, 0, 0}, {"k1", 1, 0, 0}, {"b", 1, 0, 0},
        {"title-weight", 1, 0, 0}, {"stem", 1, 0, 0}, {"fusion", 1, 0, 0},
        {"rrf-k", 1, 0, 0}, {"w-bm25", 1, 0, 0}, {"w-dense", 1, 0, 0},
        {"depth", 1, 0, 0}, {"dim", 1, 0, 0}, {"ngrams", 1, 0, 0},
        {"ngram-weight", 1, 0, 0}, {"word-weight", 1, 0, 0},
        {"title-repeat", 1, 0, 0}, {"power-iters", 1, 0, 0},
        {"article", 0, 0, 'a'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    struct tr_eval_run_opts o;
    struct tr_eval_dataset *ds = NULL;
    struct tr_eval_run_result r;
    struct tr_error err = {0};
    int c, idx;

    tr_eval_run_opts_default(&o);
    while ((c = getopt_long(argc, argv, "h", longs, &idx)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c == 'a') {
            o.article_level = 1;
            continue;
        }
        if (c != 0 || apply(&o, longs[idx].name, optarg) != 0) {
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }

    if (tr_eval_dataset_load(argv[optind], &ds, &err) != TR_OK
        || tr_eval_retrieval_run(ds, &o, &r, &err) != TR_OK) {
        fprintf(stderr, "tr-eval-retrieval: %s\n", tr_error_msg(&err));
        tr_eval_dataset_free(ds);
        return 1;
    }
    printf("%zu %s, %zu queries%s%s, build %.2f s, queries %.2f s\n",
           o.article_level ? ds->n_articles : r.n_docs,
           o.article_level ? "articles" : "documents", r.n_queries,
           o.half ? " of half " : "", o.half ? (char[2]){o.half, 0} : "",
           r.build_s, r.query_s);
    print_row("bm25", &r.bm25);
    print_row("dense", &r.dense);
    print_row("hybrid", &r.hybrid);
    tr_eval_dataset_free(ds);
    return 0;
}
