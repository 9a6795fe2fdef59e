import BSON
import Foundation
import LetheCore
import MongoKit

/// Takes in the inbox collection (default `lethe.inbox`): producers (an App Services
/// authentication trigger, another auth system) insert raw events there. Each event
/// becomes a request (or a recorded refusal) before it leaves the inbox, so an event
/// is never lost: a crash in between means it is read again, and the event key makes
/// the second reading the same request.
///
/// A refused document is not deleted outright: it is first copied, whole and with its
/// refusal, into the dead-letter collection (`<state db>.inboxRejected`), where a person
/// can read why and insert a corrected event again. A batch in which no document is an
/// event at all (neither an App Services authentication event nor a CloudEvent) is left
/// in place and the drain stops with `InboxError.notAnInbox`: the collection is probably
/// not an inbox, and emptying it would destroy it.
public struct InboxConsumer: Sendable {
    public let collection: MongoCollection
    /// Where refused documents are kept. Default: `inboxRejected` in the inbox's database.
    public let rejected: MongoCollection
    let intake: any DocumentIntake
    /// Events read per pass. Default 500.
    public var batchSize: Int

    public init(collection: MongoCollection, intake: any DocumentIntake, rejected: MongoCollection? = nil, batchSize: Int = 500) {
        self.collection = collection
        self.rejected = rejected ?? collection.pool.database(collection.databaseName).collection(LetheNamespaces.inboxRejectedCollection)
        self.intake = intake
        self.batchSize = batchSize
    }

    /// Takes in everything in the inbox now.
    public func drain() async throws -> IntakeCounts {
        var total = IntakeCounts()
        while true {
            let documents = try await collection.find([:], options: FindOptions(sort: ["_id": 1], limit: batchSize, batchSize: batchSize)).toArray()
            guard !documents.isEmpty else { break }
            guard documents.contains(where: Self.isEvent) else {
                throw InboxError.notAnInbox(namespace: collection.namespace, documents: documents.count)
            }
            let summary = try await intake.receive(documents: documents, channel: .inbox)
            total.add(IntakeCounts(summary))
            try await keepRefused(summary.refused, of: documents)
            let ids = documents.compactMap { $0["_id"] }
            try await collection.deleteMany(["_id": ["$in": .array(ids)]])
            if documents.count < batchSize { break }
        }
        return total
    }

    /// Copies each refused document, with its refusal, into the dead-letter collection,
    /// before the inbox forgets it. Keyed by the inbox document's `_id`, so a drain
    /// repeated after a crash writes the same entry again rather than a second one.
    func keepRefused(_ refused: [IntakeSummary.Refused], of documents: [BSONDocument]) async throws {
        let now = BSONDatetime(Date())
        let models: [WriteModel] = refused.compactMap { refusal in
            guard let position = refusal.position, documents.indices.contains(position) else { return nil }
            let document = documents[position]
            let id = document["_id"] ?? .null
            var entry: BSONDocument = [
                "_id": id, "inbox": .string(collection.namespace), "refusedAt": .datetime(now),
                "code": .string(refusal.code), "message": .string(refusal.message), "event": .document(document),
            ]
            if let field = refusal.field { entry.append("field", .string(field)) }
            return .replaceOne(filter: ["_id": id], replacement: entry, upsert: true)
        }
        guard !models.isEmpty else { return }
        _ = try await rejected.bulkWrite(models, ordered: false)
    }

    /// Whether `document` has the shape of an event (it may still be refused for its fields).
    static func isEvent(_ document: BSONDocument) -> Bool {
        DeletionEventParser().parse(document: document).refusal?.reason != .unknownShape
    }
}

/// Why a drain of the inbox stopped with nothing taken in or deleted.
public enum InboxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No document of a batch is an event: the inbox is probably the wrong collection.
    case notAnInbox(namespace: String, documents: Int)

    public var description: String {
        switch self {
        case .notAnInbox(let namespace, let documents):
            "the inbox \(namespace) holds \(documents) document(s) of which none is a deletion event (an App Services "
                + "authentication event or a CloudEvent); nothing was taken in or deleted. Check that --inbox names the "
                + "collection the auth trigger inserts into (default <state-db>.inbox), and remove or correct what is not an event"
        }
    }
}

/// Takes in events that arrive as BSON documents (the inbox).
public protocol DocumentIntake: Sendable {
    /// Each refusal's `position` is the index of its document in `documents`.
    func receive(documents: [BSONDocument], channel: Channel) async throws -> IntakeSummary
}
