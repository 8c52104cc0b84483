#ifndef SWIFTBATCH_CLIBPQ_SHIM_H
#define SWIFTBATCH_CLIBPQ_SHIM_H

#include <libpq-fe.h>
#include <poll.h>

// Field codes of PQresultErrorField are character-literal macros ('C', 'M', ...), which Swift
// cannot import. They are re-exported here as constants under their libpq names.
static const int CLibPQ_PG_DIAG_SEVERITY_NONLOCALIZED = PG_DIAG_SEVERITY_NONLOCALIZED;
static const int CLibPQ_PG_DIAG_SQLSTATE = PG_DIAG_SQLSTATE;
static const int CLibPQ_PG_DIAG_MESSAGE_PRIMARY = PG_DIAG_MESSAGE_PRIMARY;
static const int CLibPQ_PG_DIAG_MESSAGE_DETAIL = PG_DIAG_MESSAGE_DETAIL;
static const int CLibPQ_PG_DIAG_MESSAGE_HINT = PG_DIAG_MESSAGE_HINT;
static const int CLibPQ_PG_DIAG_CONTEXT = PG_DIAG_CONTEXT;
static const int CLibPQ_PG_DIAG_SCHEMA_NAME = PG_DIAG_SCHEMA_NAME;
static const int CLibPQ_PG_DIAG_TABLE_NAME = PG_DIAG_TABLE_NAME;
static const int CLibPQ_PG_DIAG_COLUMN_NAME = PG_DIAG_COLUMN_NAME;
static const int CLibPQ_PG_DIAG_CONSTRAINT_NAME = PG_DIAG_CONSTRAINT_NAME;

#endif
