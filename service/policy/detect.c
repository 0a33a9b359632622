/*
 * detect.c
 *      The built-in detectors (escalation categories and prompt
 *      injection, in English, German, Spanish and French) and the
 *      pattern compiling and matching that every policy pattern shares.
 *
 * The built-in expressions look for phrases, not single words, wherever
 * a word alone is common in ordinary tickets: "down" alone is a
 * direction, "court" a tennis court, "avocat" an avocado and "Gericht"
 * a dish, so they only count inside a phrase that makes the meaning
 * plain ("site is down", "take you to court", "mon avocat", "vor
 * Gericht").  Injection expressions ask for an instruction-shaped
 * phrase ("ignore all previous instructions"), so that a customer who
 * writes that they "ignored the instructions" is not flagged.  All
 * matching is caseless with Unicode properties, so \b and \w know
 * accented letters, and tolerates invalid UTF-8.
 *
 * The table is compiled once per process; matching uses per-call match
 * data and a match context with limits, so every thread may share it,
 * and a pathological tenant pattern fails the call instead of spinning.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

/* Matching steps allowed per pcre2_match() call. */
#define MATCH_LIMIT 1000000
/* Backtracking depth allowed, in kilobytes of heap. */
#define HEAP_LIMIT (20 * 1024)

#define INJ (-1)

struct source {
    const char *name;
    const char *lang;
    int category;
    const char *regex;
};

/* Escalation phrases.  Each language has its own entry so that the
 * ledger can say which one fired. */
static const struct source sources[] = {
    {"legal_threat", "en", TR_POLICY__LEGAL_THREAT,
     "\\b(?:my (?:lawyer|attorney|solicitor)s?|legal action|lawsuit|"
     "(?:sue|suing) (?:you|your company|them)|class action|"
     "take (?:you|this|it|them) to court|small claims|legal proceedings|"
     "hear from my (?:lawyer|attorney))\\b"},
    {"legal_threat", "de", TR_POLICY__LEGAL_THREAT,
     "\\b(?:(?:mein(?:em|en|e)?|einen?) (?:rechts)?anw[aä]lt\\w*|"
     "rechtsanwalt\\w*|verklag\\w*|vor gericht|rechtliche schritte|"
     "klage (?:ein|erheben)\\w*|anwaltlich\\w*|mahnverfahren)\\b"},
    {"legal_threat", "es", TR_POLICY__LEGAL_THREAT,
     "\\b(?:mi abogad[oa]|abogados|demandar\\w*|(?:los|les|te) "
     "demandar\\w*|acciones? legal(?:es)?|medidas legales|"
     "(?:una|la) demanda judicial|llevar\\w* a los tribunales|"
     "denuncia formal)\\b"},
    {"legal_threat", "fr", TR_POLICY__LEGAL_THREAT,
     "\\b(?:(?:mon|notre) avocat|un avocat (?:pour|contre)|"
     "poursuites? judiciaires?|"
     "action en justice|porter plainte|mise en demeure|"
     "(?:au|devant le) tribunal|vous poursuivre en justice)\\b"},

    {"security_report", "en", TR_POLICY__SECURITY_REPORT,
     "\\b(?:(?:security )?vulnerabilit(?:y|ies)|security (?:issue|flaw|"
     "hole|bug|incident|breach)|data (?:breach|leak)|"
     "(?:account|password|site) (?:was |has been |got )?"
     "(?:hacked|compromised)|been hacked|unauthori[sz]ed (?:access|login|"
     "charges? on my account)|sql injection|cross[- ]site scripting|xss|"
     "remote code execution|cve-\\d{4}-\\d+|responsible disclosure|"
     "bug bounty)\\b"},
    {"security_report", "de", TR_POLICY__SECURITY_REPORT,
     "\\b(?:sicherheitslücke\\w*|schwachstelle\\w*|sicherheitsproblem\\w*|"
     "gehackt|datenleck\\w*|datenpanne\\w*|unbefugte[rn]? zugriff\\w*|"
     "kompromittiert)\\b"},
    {"security_report", "es", TR_POLICY__SECURITY_REPORT,
     "\\b(?:vulnerabilidad(?:es)?|(?:brecha|fallo|agujero|problema) de "
     "seguridad|(?:me )?(?:han )?hackeado|hackearon|filtración de datos|"
     "acceso no autorizado|cuenta comprometida)\\b"},
    {"security_report", "fr", TR_POLICY__SECURITY_REPORT,
     "\\b(?:vulnérabilités?|faille (?:de sécurité|critique)|piraté|"
     "fuite de données|accès non autorisé|compte compromis|"
     "problème de sécurité)\\b"},

    {"chargeback", "en", TR_POLICY__CHARGEBACK,
     "\\b(?:charge ?backs?|dispute (?:the|this|a|my) (?:charge|payment|"
     "transaction)|(?:filed|file|opening|open) a dispute|"
     "(?:contact|call|calling|contacting) my (?:bank|card issuer|"
     "credit card company) (?:to|and) (?:reverse|dispute|cancel)|"
     "reverse the (?:charge|payment))\\b"},
    {"chargeback", "de", TR_POLICY__CHARGEBACK,
     "\\b(?:rückbuchung\\w*|zurückbuch\\w*|lastschrift "
     "(?:zurück\\w*|widerruf\\w*)|zahlung (?:zurückholen|widerrufen|"
     "anfechten)|chargeback)\\b"},
    {"chargeback", "es", TR_POLICY__CHARGEBACK,
     "\\b(?:contracargos?|disputar? (?:el|este|un) (?:cargo|pago)|"
     "reclamación (?:a|con) (?:mi|el) banco|revertir el (?:cargo|pago)|"
     "anular el cargo con (?:mi|el) banco)\\b"},
    {"chargeback", "fr", TR_POLICY__CHARGEBACK,
     "\\b(?:rétrofacturation|contest(?:er|ation) (?:le|du|de ce|ce) "
     "(?:paiement|prélèvement|débit)|opposition (?:sur|à) (?:ma carte|le "
     "paiement|ce paiement)|rembourser par ma banque)\\b"},

    {"outage", "en", TR_POLICY__OUTAGE,
     "\\b(?:outage|(?:site|service|website|app|api|server|platform|"
     "system|dashboard)s? (?:is|are|went|seems|seem to be|has been) "
     "(?:completely |totally |still )?(?:down|offline|unreachable|"
     "unavailable)|down for every(?:one|body)|nobody (?:here )?can "
     "(?:log ?in|access)|(?:502|503) (?:error|bad gateway|service "
     "unavailable))\\b"},
    {"outage", "de", TR_POLICY__OUTAGE,
     "\\b(?:ausfall|ausgefallen|störung|(?:seite|dienst|server|system|"
     "app|plattform|webseite|website) (?:ist )?(?:komplett |total )?"
     "(?:down|offline|nicht erreichbar|nicht verfügbar))\\b"},
    {"outage", "es", TR_POLICY__OUTAGE,
     "\\b(?:caída (?:del|de la) (?:servicio|sistema|sitio|plataforma|"
     "web|aplicación)|(?:servicio|sistema|sitio|servidor|plataforma|"
     "página|web) (?:está )?(?:caíd[oa]|fuera de servicio|inaccesible)|"
     "interrupción del servicio|no funciona para nadie)\\b"},
    {"outage", "fr", TR_POLICY__OUTAGE,
     "\\b(?:panne (?:générale|du service|du site|totale)|(?:site|service|"
     "serveur|plateforme|application) (?:est )?(?:en panne|hors service|"
     "hors ligne|inaccessible|indisponible)|interruption de service)\\b"},

    {"human_request", "en", TR_POLICY__HUMAN_REQUEST,
     "\\b(?:(?:speak|talk|chat) (?:to|with) (?:a |an )?(?:real |actual |"
     "live )?(?:human|person|agent|representative|manager|supervisor)|"
     "real (?:human|person)|human (?:agent|being)|not a (?:bot|robot)|"
     "(?:stop|no more) (?:the )?(?:bot|automated (?:replies|answers)))\\b"},
    {"human_request", "de", TR_POLICY__HUMAN_REQUEST,
     "\\b(?:mit (?:einem|einer) (?:echten |richtigen )?(?:menschen|"
     "mitarbeiter(?:in)?|person|vorgesetzten|berater(?:in)?) sprechen|"
     "echte[nr]? mensch\\w*|kein(?:en)? (?:bot|roboter)|"
     "menschliche[nr]? (?:ansprechpartner|mitarbeiter)\\w*)\\b"},
    {"human_request", "es", TR_POLICY__HUMAN_REQUEST,
     "\\b(?:hablar con (?:una persona|un humano|un agente|alguien|un "
     "supervisor|un responsable|un ser humano)|persona real|"
     "no (?:con )?un (?:bot|robot)|agente humano)\\b"},
    {"human_request", "fr", TR_POLICY__HUMAN_REQUEST,
     "\\b(?:parler (?:à|a|avec) (?:un humain|une personne|un conseiller|"
     "quelqu'un|un responsable|un agent|un être humain)|vraie personne|"
     "pas (?:à |a )?un robot|conseiller humain)\\b"},

    /* Prompt injection. */
    {"ignore_instructions", "en", INJ,
     "\\b(?:ignore|disregard|forget|override|bypass)\\s+(?:all\\s+|any\\s+|"
     "the\\s+|your\\s+|every\\s+)*(?:previous|prior|above|earlier|"
     "preceding|former|original|system)\\s+(?:instructions?|prompts?|"
     "rules|directions|guidelines|messages?|context)"},
    {"ignore_instructions", "de", INJ,
     "\\b(?:ignorier\\w*|vergiss|vergessen sie|missachte\\w*)\\s+"
     "(?:alle\\s+|die\\s+|deine\\s+|ihre\\s+)*(?:vorherigen|bisherigen|"
     "obigen|vorigen|früheren|ursprünglichen)\\s+(?:anweisungen|"
     "instruktionen|regeln|befehle|vorgaben)"},
    {"ignore_instructions", "es", INJ,
     "\\b(?:ignora\\w*|olvida\\w*|omite|descarta)\\s+(?:todas\\s+|las\\s+|"
     "tus\\s+|sus\\s+)*(?:instrucciones|reglas|indicaciones)\\s+"
     "(?:anteriores|previas|originales|del sistema)"},
    {"ignore_instructions", "fr", INJ,
     "\\b(?:ignore[rz]?|oublie[rz]?|néglige[rz]?)\\s+(?:toutes\\s+|les\\s+|"
     "tes\\s+|vos\\s+)*(?:instructions|consignes|règles)\\s+"
     "(?:précédentes|antérieures|initiales|du système)"},
    {"reveal_prompt", "en", INJ,
     "\\b(?:system prompt|(?:reveal|show|print|repeat|output|display|"
     "leak|tell me|give me)\\s+(?:me\\s+)?(?:your|the)\\s+(?:(?:initial|"
     "hidden|original|secret|internal|system)\\s+)+(?:prompt|"
     "instructions)|(?:reveal|print|repeat|output|leak|show me)\\s+"
     "your\\s+prompt)\\b"},
    {"reveal_prompt", "de", INJ,
     "\\b(?:system-?prompt|system-?anweisungen|(?:deine|ihre)\\s+"
     "(?:ursprünglichen|geheimen|internen|versteckten)\\s+anweisungen|"
     "(?:zeige?|verrate|gib|nenne)\\s+(?:mir\\s+)?(?:deinen|den)\\s+"
     "prompt)\\b"},
    {"reveal_prompt", "es", INJ,
     "\\b(?:prompt del sistema|instrucciones del sistema|(?:mu[eé]stra|"
     "revela|dime|repite)(?:me)?\\s+(?:tu|tus|el|las)\\s+(?:prompt|"
     "instrucciones)\\s+(?:iniciales|originales|ocultas|secretas|"
     "internas)|(?:mu[eé]stra|revela|repite)(?:me)?\\s+tu\\s+prompt)\\b"},
    {"reveal_prompt", "fr", INJ,
     "\\b(?:prompt (?:du )?système|instructions (?:du )?système|"
     "(?:montre|révèle|affiche|répète|donne)(?:[- ]moi)?\\s+(?:ton|le|"
     "tes|les|vos)\\s+(?:prompt|instructions)\\s+(?:initiales|"
     "originales|cachées|secrètes|internes)|(?:montre|révèle|affiche|"
     "répète)(?:[- ]moi)?\\s+ton\\s+prompt)\\b"},
    {"role_play", "en", INJ,
     "\\b(?:(?:you are now|from now on,? you are|act as|pretend (?:to be|"
     "you are)|roleplay as|role-play as)\\s+(?:the\\s+|an?\\s+)?"
     "(?:system|developer|admin(?:istrator)?|root|dan|unfiltered|"
     "unrestricted|jailbroken)|do anything now)\\b"},
    {"role_play", "de", INJ,
     "\\b(?:du bist (?:jetzt|ab sofort|nun)|tu so,? als (?:wärst|ob) du|"
     "agiere als|spiele? die rolle)\\s+(?:der\\s+|die\\s+|das\\s+|ein\\s+|"
     "eine\\s+)?(?:system|entwickler|administrator|admin|root|"
     "uneingeschränkt|ohne regeln)\\w*"},
    {"role_play", "es", INJ,
     "\\b(?:ahora eres|a partir de ahora eres|actúa como|finge ser|"
     "haz de)\\s+(?:el\\s+|un\\s+|una\\s+)?(?:sistema|desarrollador|"
     "administrador|root|sin restricciones|sin reglas)\\b"},
    {"role_play", "fr", INJ,
     "\\b(?:tu es maintenant|désormais tu es|agis comme|fais semblant "
     "d'être|joue le rôle d[eu'])\\s*(?:le\\s+|un\\s+|une\\s+|l')?"
     "(?:système|développeur|administrateur|root|sans restrictions|"
     "sans règles)"},
    {"fake_turn", "any", INJ,
     "(?:^|\\n)\\s*(?:system|assistant|developer)\\s*:\\s*(?:you |"
     "ignore|from now|new instructions|your (?:new )?(?:task|role))|"
     "<\\|?(?:system|"
     "im_start|im_end|endoftext)\\|?>|\\[/?(?:INST|SYS)\\]|<</?SYS>>|"
     "#{2,}\\s*(?:system|instructions?|new instructions?)\\b|"
     "\\b(?:new|updated|revised) instructions\\s*:"},
};

#define N_SOURCES (sizeof(sources) / sizeof(sources[0]))

static struct tr_policy__detector detectors[N_SOURCES];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char compile_error[512];

/*
 * One set of options for every pattern, built-in or tenant: caseless
 * and Unicode-aware matching is what a support text needs, and invalid
 * UTF-8 in a ticket must not make a detector fail.
 */
pcre2_code *
tr_policy__compile(const char *pattern, bool caseless, char *msg,
                   size_t msg_len)
{
    PCRE2_UCHAR text[256];
    PCRE2_SIZE at;
    pcre2_code *code;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    int rc;

    if (caseless)
        opts |= PCRE2_CASELESS;
    code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts,
                         &rc, &at, NULL);
    if (code == NULL) {
        pcre2_get_error_message(rc, text, sizeof(text));
        snprintf(msg, msg_len, "%s at offset %zu", (char *)text,
                 (size_t)at);
        return NULL;
    }

    /* Without JIT (some platforms) the interpreter gives the same
     * answers, only slower. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    return code;
}

/* Compile the table once; the first failure is kept for every caller. */
static void
compile_all(void)
{
    char msg[256];

    for (size_t i = 0; i < N_SOURCES; i++) {
        detectors[i].name = sources[i].name;
        detectors[i].lang = sources[i].lang;
        detectors[i].category = sources[i].category;
        detectors[i].code = tr_policy__compile(sources[i].regex, true, msg,
                                               sizeof(msg));
        if (detectors[i].code == NULL) {
            snprintf(compile_error, sizeof(compile_error),
                     "built-in detector %s (%s) does not compile: %s",
                     sources[i].name, sources[i].lang, msg);
            return;
        }
    }
}

const struct tr_policy__detector *
tr_policy__detectors(size_t *n, struct tr_error *err)
{
    pthread_once(&once, compile_all);
    if (compile_error[0] != '\0') {
        TR_ERROR(err, TR_E_INTERNAL, "%s", compile_error);
        return NULL;
    }

    *n = N_SOURCES;
    return detectors;
}

/*
 * Match data and context are made per call: they are small, and sharing
 * them would tie a configuration to one thread.
 */
int
tr_policy__match(const pcre2_code *code, const char *text, size_t len,
                 size_t *start, size_t *end)
{
    pcre2_match_data *md;
    pcre2_match_context *mc;
    PCRE2_SIZE *ov;
    int rc;

    md = pcre2_match_data_create(1, NULL);
    mc = pcre2_match_context_create(NULL);
    if (md == NULL || mc == NULL) {
        rc = PCRE2_ERROR_NOMEMORY;
        goto out;
    }

    pcre2_set_match_limit(mc, MATCH_LIMIT);
    pcre2_set_heap_limit(mc, HEAP_LIMIT);

    rc = pcre2_match(code, (PCRE2_SPTR)text, len, 0, 0, md, mc);
    if (rc >= 0) {
        ov = pcre2_get_ovector_pointer(md);
        *start = ov[0];
        *end = ov[1];
        rc = 1;
    } else if (rc == PCRE2_ERROR_NOMATCH) {
        rc = 0;
    }

out:
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    return rc;
}

bool
tr_policy_injection_check(const char *text, size_t len, const char **which)
{
    const struct tr_policy__detector *d;
    size_t n, s, e;

    if (text == NULL || (d = tr_policy__detectors(&n, NULL)) == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        /* A text that exhausts the match limit is treated as a hit:
         * someone crafted it, and a human should look. */
        if (d[i].category == INJ &&
            tr_policy__match(d[i].code, text, len, &s, &e) != 0) {
            if (which != NULL)
                *which = d[i].name;
            return true;
        }
    }

    return false;
}
