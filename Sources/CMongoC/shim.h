// The only C the project writes. Debian's libbson is built with BSON_EXTRA_ALIGN, so
// bson_t is 128-byte aligned and Swift sees it only as an OpaquePointer. Every call
// that fills a caller-provided `bson_t reply` needs a properly aligned stack value, so
// those calls are wrapped here: the reply lives on the C stack and the caller gets a
// heap copy (free it with bson_destroy).
#ifndef LETHE_CMONGOC_SHIM_H
#define LETHE_CMONGOC_SHIM_H

#include <mongoc/mongoc.h>

static inline uint32_t lethe_bson_length(const bson_t *b) { return b->len; }

/// Mode for lethe_client_command: which libmongoc entry point applies.
enum { LETHE_CMD_PLAIN = 0, LETHE_CMD_READ = 1, LETHE_CMD_WRITE = 2 };

static inline bson_t *lethe_client_command(mongoc_client_t *client, const char *db,
                                           const bson_t *command, const bson_t *opts,
                                           int mode, bson_error_t *error, bool *ok) {
    bson_t reply;
    switch (mode) {
    case LETHE_CMD_READ:
        *ok = mongoc_client_read_command_with_opts(client, db, command, NULL, opts, &reply, error);
        break;
    case LETHE_CMD_WRITE:
        *ok = mongoc_client_write_command_with_opts(client, db, command, opts, &reply, error);
        break;
    default:
        *ok = mongoc_client_command_with_opts(client, db, command, NULL, opts, &reply, error);
        break;
    }
    bson_t *copy = bson_copy(&reply);
    bson_destroy(&reply);
    return copy;
}

enum { LETHE_DELETE_ONE = 0, LETHE_DELETE_MANY = 1, LETHE_UPDATE_ONE = 2, LETHE_UPDATE_MANY = 3,
       LETHE_INSERT_ONE = 4 };

/// deleteOne/deleteMany/updateOne/updateMany/insertOne with the server's reply
/// (counts, upsertedId, writeErrors). `update` is ignored for deletes and inserts.
static inline bson_t *lethe_collection_write(mongoc_collection_t *coll, int kind,
                                             const bson_t *selector, const bson_t *update,
                                             const bson_t *opts, bson_error_t *error, bool *ok) {
    bson_t reply;
    switch (kind) {
    case LETHE_DELETE_ONE:
        *ok = mongoc_collection_delete_one(coll, selector, opts, &reply, error);
        break;
    case LETHE_DELETE_MANY:
        *ok = mongoc_collection_delete_many(coll, selector, opts, &reply, error);
        break;
    case LETHE_UPDATE_ONE:
        *ok = mongoc_collection_update_one(coll, selector, update, opts, &reply, error);
        break;
    case LETHE_UPDATE_MANY:
        *ok = mongoc_collection_update_many(coll, selector, update, opts, &reply, error);
        break;
    default:
        *ok = mongoc_collection_insert_one(coll, selector, opts, &reply, error);
        break;
    }
    bson_t *copy = bson_copy(&reply);
    bson_destroy(&reply);
    return copy;
}

static inline bson_t *lethe_bulk_execute(mongoc_bulk_operation_t *bulk, bson_error_t *error,
                                         bool *ok) {
    bson_t reply;
    *ok = mongoc_bulk_operation_execute(bulk, &reply, error) != 0;
    bson_t *copy = bson_copy(&reply);
    bson_destroy(&reply);
    return copy;
}

static inline bson_t *lethe_find_and_modify(mongoc_collection_t *coll, const bson_t *query,
                                            const mongoc_find_and_modify_opts_t *opts,
                                            bson_error_t *error, bool *ok) {
    bson_t reply;
    *ok = mongoc_collection_find_and_modify_with_opts(coll, query, opts, &reply, error);
    bson_t *copy = bson_copy(&reply);
    bson_destroy(&reply);
    return copy;
}

static inline int64_t lethe_count_documents(mongoc_collection_t *coll, const bson_t *filter,
                                            const bson_t *opts, bson_error_t *error) {
    return mongoc_collection_count_documents(coll, filter, opts, NULL, NULL, error);
}

#endif
