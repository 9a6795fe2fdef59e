internal import CMongoC
import BSON
import NIOConcurrencyHelpers

/// The results of `find` or `aggregate`, read batch by batch as an `AsyncSequence`.
///
/// A cursor holds one pooled client until it is exhausted or dropped (a cursor lives
/// on the connection that opened it). Iterate it once. Each hop to the pool's threads
/// reads up to one batch, so the cost of leaving the cooperative pool is paid per
/// batch, not per document.
public struct MongoCursor: AsyncSequence, Sendable {
    public typealias Element = BSONDocument

    let box: CursorBox

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(box: box) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let box: CursorBox
        var buffer: [BSONDocument] = []
        var index = 0

        public mutating func next() async throws -> BSONDocument? {
            if index == buffer.count {
                buffer = try await box.nextBatch()
                index = 0
                if buffer.isEmpty { return nil }
            }
            defer { index += 1 }
            return buffer[index]
        }
    }

    /// Hands the documents over a batch at a time (up to the batch size the cursor was
    /// opened with), holding one batch, not a batch and a copy of it.
    public func forEachBatch(_ body: ([BSONDocument]) async throws -> Void) async throws {
        while true {
            let batch = try await box.nextBatch()
            if batch.isEmpty { return }
            try await body(batch)
        }
    }

    /// Every remaining document. For bounded results only.
    public func toArray() async throws -> [BSONDocument] {
        var all: [BSONDocument] = []
        for try await document in self { all.append(document) }
        return all
    }
}

/// Owns a `mongoc_cursor_t`, the handle it came from, and the leased client.
final class CursorBox: @unchecked Sendable {
    // @unchecked: the C handles are touched only inside `lease.run`, one call at a
    // time (an iterator is not shared), or in deinit when nobody else holds the box.

    private struct Handles: @unchecked Sendable {
        let cursor: OpaquePointer
        /// The collection or database the cursor came from, destroyed after it.
        let parent: OpaquePointer
        let parentIsDatabase: Bool
    }

    private let lease: LeasedClient
    private let handles: Handles
    private let prefetch: Int
    private let operation: String
    private let namespace: String
    private let state = NIOLockedValueBox<(finished: Bool, closed: Bool)>((false, false))

    init(lease: LeasedClient, cursor: OpaquePointer, parent: OpaquePointer, parentIsDatabase: Bool,
         prefetch: Int, operation: String, namespace: String) {
        self.lease = lease
        self.handles = Handles(cursor: cursor, parent: parent, parentIsDatabase: parentIsDatabase)
        self.prefetch = max(1, prefetch)
        self.operation = operation
        self.namespace = namespace
    }

    func nextBatch() async throws -> [BSONDocument] {
        if state.withLockedValue({ $0.finished }) { return [] }
        let handles = handles
        let (prefetch, operation, namespace) = (self.prefetch, self.operation, self.namespace)
        let batch: (documents: [BSONDocument], finished: Bool)
        do {
            batch = try await lease.run(operation: operation) { _ in
                var documents: [BSONDocument] = []
                documents.reserveCapacity(min(prefetch, 1024))
                var current: OpaquePointer?
                while documents.count < prefetch {
                    guard mongoc_cursor_next(handles.cursor, &current), let current else {
                        var error = bson_error_t()
                        var reply: OpaquePointer?
                        if mongoc_cursor_error_document(handles.cursor, &error, &reply) {
                            let replyDocument = reply.flatMap { try? BSONDocument(libbson: $0) }
                            throw MongoError(error, operation: operation, namespace: namespace, reply: replyDocument)
                        }
                        return (documents, true)
                    }
                    do throws(BSONDecodingError) {
                        documents.append(try BSONDocument(libbson: current))
                    } catch {
                        throw MongoError.decoding(error, operation: operation, namespace: namespace)
                    }
                }
                return (documents, false)
            }
        } catch {
            close()
            throw error
        }
        if batch.finished {
            state.withLockedValue { $0.finished = true }
            close()
        }
        return batch.documents
    }

    /// Frees the cursor and returns the client. An unfinished cursor is killed on the
    /// server, which is network I/O, so it runs on the pool's threads.
    private func close() {
        let first = state.withLockedValue { state in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        let handles = handles
        let lease = lease
        lease.pool.threadPool.submit { _ in
            mongoc_cursor_destroy(handles.cursor)
            if handles.parentIsDatabase {
                mongoc_database_destroy(handles.parent)
            } else {
                mongoc_collection_destroy(handles.parent)
            }
            lease.release()
        }
    }

    deinit { close() }
}
