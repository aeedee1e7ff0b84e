/* config.h — table-driven configuration: JSON files, --set key=value, long options, help and dumps.
 *
 * A configuration is a plain struct owned by its user; a CfgKey table (ending with key == NULL)
 * describes its fields: name, type, where it lives (offset, size), valid range or choices, help text.
 * The struct's initial contents are the defaults. Everything that sets a value goes through one parser
 * with one set of checks, so a value is accepted or rejected the same way from a file, --set or --key.
 *
 * Storage (chosen by the field's size, use CFG_FIELD to fill offset and size):
 *   CFG_INT    int64_t (size 8; the house choice) or int32_t (size 4)
 *   CFG_FLOAT  double (size 8) or float (size 4)
 *   CFG_STRING char[size] (values must fit with their NUL)
 *   CFG_BOOL   int (size 4) or bool/char (size 1); stored as 0/1
 * Text values:
 *   CFG_INT    decimal integer, optionally followed by a binary size suffix K, M, G or T (either case,
 *              optionally with "iB": 2G = 2GiB = 2147483648, 512k = 524288); also an integral float
 *              such as 1e5 or 3.0. "12abc", "2.5", overflow: errors.
 *   CFG_FLOAT  anything strtod reads completely (1e-3, 0.1, -2); NaN and infinities are rejected; a value
 *              outside float's range for a float field is rejected.
 *   CFG_STRING taken as is.
 *   CFG_BOOL   true/false, yes/no, on/off, 1/0 (case-insensitive).
 * Checks: when min < max the (inclusive) range [min, max] is enforced for INT and FLOAT; leave both 0
 * for no range (use -INFINITY/INFINITY for one-sided ranges). choices ("a|b|c") lists the allowed
 * values of a STRING or INT key exactly. Nothing is silently corrected: every failure is LOCUS_ERR_ARG
 * with a hint; an unknown key suggests the closest known key (edit distance).
 * Invariants of a table (CHECKed on every call): a supported type/size pair, unique keys, choices only
 * on STRING/INT keys, no key named "config", "set" or "help" (those are options of their own). */
#ifndef LOCUS_CONFIG_H
#define LOCUS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "locus/status.h"

typedef enum CfgType { CFG_INT, CFG_FLOAT, CFG_STRING, CFG_BOOL } CfgType;

typedef struct CfgKey {
    const char *key;     /* lower_snake_case; NULL ends the table */
    CfgType type;
    size_t offset;       /* offsetof(struct, field) */
    size_t size;         /* sizeof the field (for strings: the buffer size) */
    double min, max;     /* inclusive range when min < max */
    const char *choices; /* "a|b|c" or NULL */
    const char *help;
} CfgKey;

/* offset and size of a field, for table rows:
 *   {"lr", CFG_FLOAT, CFG_FIELD(TrainConfig, lr), 0, 10, NULL, "peak learning rate"}, */
#define CFG_FIELD(Struct, field) offsetof(Struct, field), sizeof(((Struct *)0)->field)

/* The row for key, or NULL. */
const CfgKey *config_find(const CfgKey *keys, const char *key);

/* Parses value for key and stores it. Unknown key: LOCUS_ERR_ARG with "did you mean". */
Status config_set(void *cfg, const CfgKey *keys, const char *key, const char *value, ErrorMsg *err);

/* Checks every current value against its range/choices (e.g. the compiled-in defaults). */
Status config_validate(const void *cfg, const CfgKey *keys, ErrorMsg *err);

/* Applies a flat JSON object {"key": value, ...}. Value types: INT and FLOAT take a JSON number or a
 * string in the text syntax above ("2G"); STRING a JSON string; BOOL true/false. Integers beyond 2^53
 * must be strings. An unknown key (a config key nobody reads), a key given twice, a wrong type or a bad
 * value is an error naming the file; so are a missing file and malformed JSON (with line:column).
 * Keys are applied in file order; on error cfg may be partly updated (callers stop anyway). */
Status config_load_json(void *cfg, const CfgKey *keys, const char *path, ErrorMsg *err);

/* Every key in table order as pretty JSON (ends with a newline), malloc'd (free()); NULL when out of
 * memory. Loading it back with config_load_json reproduces the struct's fields exactly (floats are
 * printed with the fewest digits that round-trip). For runs/<name>/config.json. */
char *config_to_json(const void *cfg, const CfgKey *keys);

/* The value as text ("0.1", "true", "2147483648", strings as is) into buf; returns buf. */
const char *config_format_value(const void *cfg, const CfgKey *k, char *buf, size_t bufsize);

/* The resolved configuration, one "key = value" line per key (keys padded to one width). */
void config_print(FILE *f, const void *cfg, const CfgKey *keys);

/* Option help, one entry per key: "  --key VALUE   help (default: ...; range [a, b] | one of a|b|c)",
 * option names with dashes (--data-dir), bools as "--key, --no-key", after lines for --config and
 * --set. Defaults are read from `defaults` (a struct holding them), omitted when it is NULL. */
void config_print_help(FILE *f, const void *defaults, const CfgKey *keys);

/* Parses options from argv[0..argc-1] (pass the arguments after the program/subcommand name), in
 * order, so a later option overrides an earlier one (put --config first):
 *   --config FILE | --config=FILE   config_load_json
 *   --set KEY=VALUE                 config_set (dashes in KEY become underscores)
 *   --key VALUE | --key=VALUE       config_set; dashes in option names become underscores
 *   --key          (bools only)     true; a bool takes a value only as --key=VALUE
 *   --no-key       (bools only)     false
 * Stops at the first positional argument (anything not starting with "-", or a lone "-"), at "-h" /
 * "--help" (left for the caller to handle) or after "--". *consumed_upto (may be NULL) receives the index
 * of the first argument not consumed (== argc when all were). An unknown option, a missing value or a bad
 * value is LOCUS_ERR_ARG with a hint. */
Status config_parse_args(void *cfg, const CfgKey *keys, int argc, char **argv, int *consumed_upto, ErrorMsg *err);

#endif
