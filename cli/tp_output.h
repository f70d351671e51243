/* How the CLI's read commands print query results: aligned tables for a terminal, JSON for
 * scripts. Writes only what it is given; never runs a query, never reformats a value (numbers
 * are printed from PostgreSQL's own text, never through a double). */
#ifndef TP_OUTPUT_H
#define TP_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include <libpq-fe.h>

/* Rows of a libpq result: an aligned text table with a header line (column names) and
 * right-aligned numeric columns; "(no rows)" when empty. json: a JSON array of objects keyed
 * by column name; numeric and integer columns (by PQftype: int2/int4/int8/numeric OIDs) as
 * JSON numbers written exactly from their text, bool as true/false, NULL as null, the rest as
 * strings (properly escaped: use jansson for strings or escape by hand). 0, or -1 on a write
 * error. */
int tp_out_rows(const PGresult *r, bool json, FILE *f);

/* Row `row` of r as one record: "name: value" lines (names padded), or one JSON object. */
int tp_out_record(const PGresult *r, int row, bool json, FILE *f);

/* Row `row` of r followed by the rows of `sub` under the name `key` (a round and its lots, a
 * lot and its lines): the record, a blank line, "key:" and sub's table; or in JSON the
 * record's object with one more member `key` (not a column of r) holding sub's array. 0, or -1
 * on a write error. */
int tp_out_record_with_rows(const PGresult *r, int row, const char *key, const PGresult *sub,
                            bool json, FILE *f);

#endif
